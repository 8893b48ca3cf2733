/* Column builders (arrow_column.h). Every buffer keeps some capacity, so a
 * consumer never sees a NULL pointer for an empty buffer. */
#include "core/exports/arrow_column.h"

#include <string.h>

#define INITIAL_RESERVE 64

const char *arrow_type_format(enum arrow_type type)
{
    switch (type) {
    case ARROW_TYPE_BOOLEAN:
        return "b";
    case ARROW_TYPE_UINT32:
        return "I";
    case ARROW_TYPE_UINT64:
        return "L";
    case ARROW_TYPE_INT64:
        return "l";
    case ARROW_TYPE_FLOAT64:
        return "g";
    case ARROW_TYPE_UTF8:
        return "u";
    }
    return "n";
}

int arrow_column_init(struct arrow_column *column, const struct arrow_field *field)
{
    static const int32_t zero_offset = 0;
    memset(column, 0, sizeof *column);
    column->field = *field;
    if (byte_buffer_reserve(&column->values, INITIAL_RESERVE) < 0 ||
        byte_buffer_reserve(&column->validity, INITIAL_RESERVE) < 0 ||
        byte_buffer_append(&column->offsets, &zero_offset, sizeof zero_offset) < 0) {
        arrow_column_release(column);
        return -1;
    }
    return 0;
}

void arrow_column_release(struct arrow_column *column)
{
    byte_buffer_release(&column->values);
    byte_buffer_release(&column->offsets);
    byte_buffer_release(&column->validity);
}

/* Makes room for the bit of row `row` in a bitmap, new bytes zeroed. */
static int bitmap_reserve(struct byte_buffer *bitmap, int64_t row)
{
    size_t needed = (size_t)(row / 8) + 1;
    if (bitmap->size >= needed) {
        return 0;
    }
    if (byte_buffer_reserve(bitmap, needed - bitmap->size) < 0) {
        return -1;
    }
    memset(bitmap->data + bitmap->size, 0, needed - bitmap->size);
    bitmap->size = needed;
    return 0;
}

static void bitmap_set(struct byte_buffer *bitmap, int64_t row)
{
    bitmap->data[row / 8] |= (uint8_t)(1u << (row % 8));
}

/* Marks the row being appended valid, when the column keeps validity. */
static int validity_mark(struct arrow_column *column, int valid)
{
    if (!column->field.nullable) {
        return valid ? 0 : -1;
    }
    if (bitmap_reserve(&column->validity, column->length) < 0) {
        return -1;
    }
    if (valid) {
        bitmap_set(&column->validity, column->length);
    }
    return 0;
}

/* Appends a fixed-width value (or, BOOLEAN, a bit) after the validity bit. */
static int append_fixed(struct arrow_column *column, const void *value, size_t width)
{
    if (column->field.type == ARROW_TYPE_BOOLEAN) {
        if (bitmap_reserve(&column->values, column->length) < 0) {
            return -1;
        }
        if (*(const uint8_t *)value) {
            bitmap_set(&column->values, column->length);
        }
    } else if (byte_buffer_append(&column->values, value, width) < 0) {
        return -1;
    }
    column->length++;
    return 0;
}

int arrow_column_append_unsigned(struct arrow_column *column, uint64_t value)
{
    if (validity_mark(column, 1) < 0) {
        return -1;
    }
    if (column->field.type == ARROW_TYPE_UINT32) {
        uint32_t narrow = (uint32_t)value;
        return append_fixed(column, &narrow, sizeof narrow);
    }
    if (column->field.type == ARROW_TYPE_BOOLEAN) {
        uint8_t bit = value != 0;
        return append_fixed(column, &bit, 0);
    }
    return append_fixed(column, &value, sizeof value);
}

int arrow_column_append_signed(struct arrow_column *column, int64_t value)
{
    if (validity_mark(column, 1) < 0) {
        return -1;
    }
    return append_fixed(column, &value, sizeof value);
}

int arrow_column_append_double(struct arrow_column *column, double value)
{
    if (validity_mark(column, 1) < 0) {
        return -1;
    }
    return append_fixed(column, &value, sizeof value);
}

/* Appends the offset that ends the row being appended (UTF8). */
static int append_offset(struct arrow_column *column)
{
    if (byte_buffer_reserve(&column->offsets, sizeof(int32_t)) < 0) {
        return -1;
    }
    int32_t end = (int32_t)column->values.size;
    memcpy(column->offsets.data + column->offsets.size, &end, sizeof end);
    column->offsets.size += sizeof end;
    column->length++;
    return 0;
}

int arrow_column_append_text(struct arrow_column *column, const char *text, size_t size)
{
    size_t before = column->values.size;
    if (size > (size_t)INT32_MAX - before || validity_mark(column, 1) < 0 ||
        byte_buffer_append(&column->values, text, size) < 0) {
        return -1;
    }
    if (append_offset(column) < 0) {
        column->values.size = before;
        return -1;
    }
    return 0;
}

int arrow_column_append_null(struct arrow_column *column)
{
    static const uint64_t zero;
    if (!column->field.nullable || validity_mark(column, 0) < 0) {
        return -1;
    }
    int status;
    switch (column->field.type) {
    case ARROW_TYPE_UTF8:
        status = append_offset(column);
        break;
    case ARROW_TYPE_UINT32:
        status = append_fixed(column, &zero, sizeof(uint32_t));
        break;
    default:
        status = append_fixed(column, &zero, sizeof zero);
        break;
    }
    if (status == 0) {
        column->null_count++;
    }
    return status;
}

size_t arrow_column_bytes(const struct arrow_column *column)
{
    return column->values.size + column->offsets.size + column->validity.size;
}
