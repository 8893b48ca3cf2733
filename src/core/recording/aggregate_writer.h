/*
 * The --aggregate mode's file: a complete, small capture holding only the
 * definitions and one CHUNK_KIND_AGGREGATE chunk made from the live table
 * (live_table.h). Each snapshot is written to a new file beside path
 * ("<path>.tmp.<pid>.<random>", created exclusively, never through a link)
 * and renamed over path, so the file on disk is always a whole, readable
 * snapshot, also when the process is killed. Only the final snapshot, at
 * stop, has the footer and trailer: one left by a killed process reads as
 * truncated. Used by the writer thread only (and at start).
 */
#ifndef MEMLYZE_AGGREGATE_WRITER_H
#define MEMLYZE_AGGREGATE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/byte_buffer.h"

/* Figures of the recording that the snapshot's footer carries. */
struct aggregate_snapshot_context {
    const char *path;
    const struct byte_buffer *header_payload; /* the file header's TLVs */
    uint64_t time_ns;                         /* since the capture started */
    uint64_t peak_time_ns;                    /* when the peak was reached, about */
    uint64_t tracker_memory_peak;
    uint64_t thread_count;
    int final; /* the snapshot at stop: the only one that closes the file */
};

/*
 * Checks that path may be written (it must not exist unless overwrite) and
 * writes a first, empty snapshot there (not final: it reads as truncated
 * until the recording stops). Returns 0, or -1 with a one-line reason in
 * error and errno set.
 */
int aggregate_writer_create(const struct aggregate_snapshot_context *context, int overwrite,
                            char *error, size_t error_size);

/*
 * Writes a snapshot of the live table and the interned definitions to a new
 * temporary file beside path and renames it over path. Returns 0, or -1 with
 * errno set (the previous snapshot then stays in place).
 */
int aggregate_writer_write(const struct aggregate_snapshot_context *context);

/* Appends the CHUNK_KIND_AGGREGATE payload of the live table to out.
 * Returns 0 or -1 (no memory). */
int aggregate_payload_encode(struct byte_buffer *out, uint64_t time_ns, uint64_t peak_time_ns);

#endif
