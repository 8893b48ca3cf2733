/*
 * INTERNAL to the live server: the state live_server.c (socket, thread,
 * rounds) and live_viewer.c (one viewer's connection) share.
 */
#ifndef MEMLYZE_LIVE_SERVER_INTERNAL_H
#define MEMLYZE_LIVE_SERVER_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/byte_buffer.h"
#include "core/live/live_history.h"
#include "core/live/live_protocol.h"
#include "core/live/live_snapshot.h"
#include "core/recording/rss.h"

enum live_viewer_state { VIEWER_NONE, VIEWER_GREETING, VIEWER_VIEWING };

struct live_viewer {
    int fd;
    enum live_viewer_state state;
    uint64_t connected_ns;
    uint64_t last_heard_ns;
    uint32_t selected_thread;
    uint8_t input[LIVE_MAX_VIEWER_FRAME + 8];
    size_t input_size;
};

/* Everything the server thread owns; start and stop touch it only while the
 * thread does not run (before its creation, after its join). */
struct live_server_state {
    int running;
    pthread_t thread;
    int listen_fd;
    int wake_fds[2];  /* stop writes a byte to [1]; the thread polls [0] */
    int stop_wanted;  /* atomic */
    uint16_t port;
    uint64_t pid;
    char *command;
    char *python_version;
    uint64_t interval_ns;
    uint64_t start_ns;
    struct live_history history;
    struct live_snapshot_builder builder;
    struct rss_reader rss;
    uint64_t rss_bytes; /* at the latest round */
    struct byte_buffer output;
    struct live_viewer viewer;
};

extern struct live_server_state live_server;

uint64_t live_server_now_ns(void);

/* --- live_viewer.c ----------------------------------------------------- */

/* Takes a new connection: it becomes the viewer, or is told BUSY and closed. */
void live_viewer_accept(int fd);
/* Reads what the viewer sent and acts on it (greeting, SELECT, PING). */
void live_viewer_read(void);
/* Sends the viewer a snapshot now (when it is viewing). */
void live_viewer_send_snapshot(void);
/* Drops a viewer that has not greeted or spoken in time. */
void live_viewer_check_silence(uint64_t now);
/* Sends END (when viewing) and closes the connection. */
void live_viewer_end(void);
/* Closes the connection without a word. */
void live_viewer_close(void);

#endif
