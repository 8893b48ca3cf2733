/*
 * Resident set size of this process, read from a kept-open /proc file with
 * one pread and no re-open. A descriptor opened before fork keeps naming the
 * parent; rss_reader_current notices a fork (a pthread_atfork child handler
 * bumps a generation counter, so the check costs a load, not a getpid) and
 * reopens the file in the child. The descriptor is kept at a high number
 * and checked (one fstat) before each read: a program that closed it and got
 * the number back for a file of its own has that file left alone, and the
 * reader opens /proc/self/statm anew (kept_descriptor.h).
 */
#ifndef MEMLYZE_RSS_H
#define MEMLYZE_RSS_H

#include <stdint.h>

#include "core/base/kept_descriptor.h"

struct rss_reader {
    int statm_fd;
    struct descriptor_identity identity; /* the statm file statm_fd was opened on */
    int owner_pid;
    uint64_t fork_generation; /* rss_fork_generation() when opened */
    uint64_t page_size;
};

/* Opens /proc/self/statm. Returns 0 or -1 (errno set). */
int rss_reader_open(struct rss_reader *reader);
void rss_reader_close(struct rss_reader *reader);
/* Current RSS in bytes, or 0 when it cannot be read. Reopens the file
 * first if the process forked since it was opened, or if the program closed
 * (or reused) its descriptor. */
uint64_t rss_reader_current(struct rss_reader *reader);
/* Peak RSS in bytes (getrusage's ru_maxrss) and page-fault counts. */
uint64_t rss_peak_bytes(void);
void rss_page_faults(uint64_t *minor, uint64_t *major);
/* How many forks this process descends through since rss.c first opened a
 * reader (0 before any fork). */
uint64_t rss_fork_generation(void);

#endif
