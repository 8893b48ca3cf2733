/*
 * A column of an Arrow record batch being filled row by row: its values and
 * (nullable columns) validity bitmap in the layouts of the Arrow columnar
 * format, ready to be handed over through the C data interface without a
 * copy (arrow_table.h). Memory is the tracker heap's.
 */
#ifndef MEMLYZE_ARROW_COLUMN_H
#define MEMLYZE_ARROW_COLUMN_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/byte_buffer.h"

enum arrow_type {
    ARROW_TYPE_BOOLEAN, /* "b": one bit per row */
    ARROW_TYPE_UINT32,  /* "I" */
    ARROW_TYPE_UINT64,  /* "L" */
    ARROW_TYPE_INT64,   /* "l" */
    ARROW_TYPE_FLOAT64, /* "g" */
    ARROW_TYPE_UTF8,    /* "u": int32 offsets then bytes */
};

struct arrow_field {
    const char *name; /* static: schemas point to it */
    enum arrow_type type;
    int nullable;
};

struct arrow_column {
    struct arrow_field field;
    struct byte_buffer values;   /* fixed-width values, bits, or UTF-8 bytes */
    struct byte_buffer offsets;  /* UTF8: length + 1 int32 offsets */
    struct byte_buffer validity; /* nullable: bit i set when row i is valid */
    int64_t length;
    int64_t null_count;
};

/* The format string of a type in the C data interface. */
const char *arrow_type_format(enum arrow_type type);

/* Starts an empty column. Returns 0, or -1 when memory ran out. */
int arrow_column_init(struct arrow_column *column, const struct arrow_field *field);
void arrow_column_release(struct arrow_column *column);

/* Each appends one row and returns 0, or -1 when memory ran out (the
 * column is then unchanged). The value's kind must be the column's type:
 * append_unsigned serves UINT32 and UINT64 (a UINT32 keeps the low 32
 * bits), BOOLEAN takes 0 or 1 through append_unsigned too. append_text
 * also returns -1 when the column's bytes would pass INT32_MAX. */
int arrow_column_append_unsigned(struct arrow_column *column, uint64_t value);
int arrow_column_append_signed(struct arrow_column *column, int64_t value);
int arrow_column_append_double(struct arrow_column *column, double value);
int arrow_column_append_text(struct arrow_column *column, const char *text, size_t size);
/* A null row (nullable columns only; -1 otherwise). */
int arrow_column_append_null(struct arrow_column *column);

/* Bytes the column holds now. */
size_t arrow_column_bytes(const struct arrow_column *column);

#endif
