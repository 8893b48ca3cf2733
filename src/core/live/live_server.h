/*
 * The live view's server: a thread in the recorded process that listens on
 * 127.0.0.1 (never another address) and sends one viewer at a time what
 * the recording holds now (live_protocol.h), every interval. It reads the
 * live table (which the recorder keeps with per-thread figures for it) and
 * /proc/self/statm; it runs no code of the program's and takes nothing from
 * the program's threads but the live table's and intern tables' mutexes for
 * the time of a copy.
 *
 * A second viewer while one is connected gets a BUSY frame; a connection
 * that is not a viewer of this protocol version gets an ERROR frame; both
 * are closed. A viewer that goes away (or stays silent too long) frees the
 * place for the next one.
 */
#ifndef MEMLYZE_LIVE_SERVER_H
#define MEMLYZE_LIVE_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct live_server_options {
    uint16_t port;               /* 0: any free port */
    uint64_t pid;
    const char *command;         /* copied */
    const char *python_version;  /* copied */
    uint64_t interval_ns;        /* between snapshots; 0: 500 ms */
};

/*
 * Binds 127.0.0.1:port and starts the server thread. Stores the port bound
 * in *bound_port. Returns 0, or -1 with a one-line reason in error (errno
 * set when a system call failed). One server per process.
 */
int live_server_start(const struct live_server_options *options, uint16_t *bound_port,
                      char *error, size_t error_size);

/* Tells the viewer the recording ended, closes everything and joins the
 * thread. Safe to call when not serving. */
void live_server_stop(void);

/* The port served, or 0 when not serving. */
uint16_t live_server_port(void);

#endif
