/* INTERNAL to the capture tables (capture_tables.c, small_tables.c). */
#ifndef MEMLYZE_CAPTURE_TABLES_INTERNAL_H
#define MEMLYZE_CAPTURE_TABLES_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "core/exports/allocation_pass.h"
#include "core/exports/arrow_table.h"
#include "core/exports/capture_tables.h"
#include "core/exports/native_stack_table.h"

struct capture_tables {
    pthread_mutex_t lock; /* guards everything below, and the reader */
    unsigned references;
    struct capture_reader *reader;
    struct allocation_pass pass;
    struct native_stack_table native; /* built after the pass, for frames and native_stacks */
    int allocations_taken;   /* an allocations stream was made */
    int pass_failed;
    struct capture_error pass_error;
};

/* The fields of a table other than allocations. */
const struct arrow_field *small_table_fields(enum capture_table_kind kind, size_t *count);

/*
 * Appends the rows of a small table from *cursor (0 at first) to rows until
 * it is full or the table ends; *cursor moves on, *done set at the end. The
 * pass must have finished, and for frames and native_stacks the native
 * table must be built. Returns 0 or -1 (memory).
 */
int small_table_fill(const struct capture_tables *tables, enum capture_table_kind kind,
                     uint64_t *cursor, struct arrow_table *rows, int *done);

#endif
