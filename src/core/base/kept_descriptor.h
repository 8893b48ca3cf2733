/*
 * Descriptors the profiler keeps open while the program runs (the capture,
 * /proc/self/statm). The program owns the descriptor table: it may close
 * every descriptor (os.closerange(3, 1024), as daemons do) and get the same
 * number back from its next open. So a kept descriptor is moved to a high
 * number, where such loops and the program's own opens rarely reach, and its
 * file's identity is remembered so that it is checked before each use: a
 * descriptor that names another file now is the program's and must never be
 * read, written or closed by the profiler.
 */
#ifndef MEMLYZE_KEPT_DESCRIPTOR_H
#define MEMLYZE_KEPT_DESCRIPTOR_H

#include <sys/types.h>

/* The file a kept descriptor was opened on (fstat's st_dev and st_ino). */
struct descriptor_identity {
    dev_t device;
    ino_t inode;
};

/*
 * Moves descriptor to a high number with close-on-exec (F_DUPFD_CLOEXEC to at
 * least KEPT_DESCRIPTOR_FLOOR, or below the RLIMIT_NOFILE soft limit when
 * that is lower) and closes the original. Returns the new number, or
 * descriptor itself when no high number is free.
 */
int kept_descriptor_raise(int descriptor);
/* Fills identity with the file descriptor names. Returns 0, or -1 (errno). */
int kept_descriptor_identify(int descriptor, struct descriptor_identity *identity);
/* 1 when descriptor is open and still names the file of identity, else 0
 * (closed, or reused by the program for another file). One fstat. */
int kept_descriptor_is_same(int descriptor, const struct descriptor_identity *identity);

#endif
