/*
 * A capture's tables as Arrow streams (the C stream interface): allocations,
 * stacks, native_stacks, frames, snapshots, rss, gc and processes, columns
 * as docs/data.md lists them. Each stream hands out record batches of at most
 * ARROW_BATCH_ROWS rows; the whole capture never sits in memory (the
 * allocations pass holds the live heap; the small tables hold their rows).
 *
 * One set of tables reads its capture once: the allocations stream drives
 * the pass, and the other tables are ready once it has ended. A small
 * table's stream asked for first reads the pass through itself (keeping no
 * allocation rows); one asked for while an allocations stream is part-way
 * fails with EBUSY. Only one allocations stream per set of tables.
 * Streams may be used from any thread (a lock serialises them); each holds
 * a reference on its tables, so they outlive capture_tables_release().
 * A damaged capture fails the stream's get_next with EINVAL, its message
 * (the reader's) from get_last_error.
 */
#ifndef MEMLYZE_CAPTURE_TABLES_H
#define MEMLYZE_CAPTURE_TABLES_H

#include <stddef.h>

#include "core/exports/arrow_c_data.h"
#include "core/format/capture_reader.h"

enum capture_table_kind {
    CAPTURE_TABLE_ALLOCATIONS,
    CAPTURE_TABLE_STACKS,
    CAPTURE_TABLE_NATIVE_STACKS,
    CAPTURE_TABLE_FRAMES,
    CAPTURE_TABLE_SNAPSHOTS,
    CAPTURE_TABLE_RSS,
    CAPTURE_TABLE_GC,
    CAPTURE_TABLE_PROCESSES,
    CAPTURE_TABLE_COUNT
};

/* The table's name, and the kind of a name (-1 for none). */
const char *capture_table_name(enum capture_table_kind kind);
int capture_table_kind_of(const char *name);

struct capture_tables;

/* Opens the capture at path (or size bytes at data, kept alive by the
 * caller until every stream is released). Returns the tables, or NULL with
 * error filled. */
struct capture_tables *capture_tables_open(const char *path, struct capture_error *error);
struct capture_tables *capture_tables_open_memory(const void *data, size_t size,
                                                  struct capture_error *error);

/* Drops the caller's reference; the last reference frees the tables. */
void capture_tables_release(struct capture_tables *tables);

/* Fills *out with a stream of one table (the caller releases it). Returns 0,
 * or -1 with error filled (memory; a second allocations stream). */
int capture_tables_stream(struct capture_tables *tables, enum capture_table_kind kind,
                          struct ArrowArrayStream *out, struct capture_error *error);

#endif
