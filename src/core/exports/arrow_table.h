/*
 * A table being filled in record batches: one arrow_column per field. A
 * full batch is handed over through the Arrow C data interface as a struct
 * array whose buffers move to the consumer (no copy); the table then starts
 * the next batch empty. The consumer may release a batch from any thread,
 * before or after the table is gone: each batch owns its buffers.
 */
#ifndef MEMLYZE_ARROW_TABLE_H
#define MEMLYZE_ARROW_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/exports/arrow_c_data.h"
#include "core/exports/arrow_column.h"

/* Rows of a full batch, and the bytes after which a batch is full anyway
 * (long strings). */
#define ARROW_BATCH_ROWS 65536
#define ARROW_BATCH_BYTES (64u << 20)

struct arrow_table {
    size_t column_count;
    struct arrow_column *columns;
    int64_t rows;
};

/* Starts a table of count fields (fields and their names stay alive as
 * long as schemas made from it: static tables). Returns 0 or -1 (memory). */
int arrow_table_init(struct arrow_table *table, const struct arrow_field *fields, size_t count);
void arrow_table_release(struct arrow_table *table);

/* Counts a row once every column has had its value appended; returns 0, or
 * -1 when a column's length disagrees (a producer's bug). */
int arrow_table_end_row(struct arrow_table *table);

/* 1 when the batch being filled should be handed over. */
int arrow_table_full(const struct arrow_table *table);

/* Fills *out with the schema (a struct of the fields), which the consumer
 * releases. Returns 0 or -1 (memory). */
int arrow_table_export_schema(const struct arrow_table *table, struct ArrowSchema *out);

/* Moves the rows filled so far into *out, a struct array the consumer
 * releases, and starts the table's next batch. Returns 0 or -1 (memory; the
 * table keeps its rows). */
int arrow_table_export_batch(struct arrow_table *table, struct ArrowArray *out);

#endif
