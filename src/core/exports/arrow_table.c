/* Record batches and schemas over the C data interface (arrow_table.h). */
#include "core/exports/arrow_table.h"

#include <string.h>

#include "core/base/tracker_memory.h"

int arrow_table_init(struct arrow_table *table, const struct arrow_field *fields, size_t count)
{
    memset(table, 0, sizeof *table);
    table->columns = tracker_calloc(count, sizeof *table->columns);
    if (!table->columns) {
        return -1;
    }
    table->column_count = count;
    for (size_t index = 0; index < count; index++) {
        if (arrow_column_init(&table->columns[index], &fields[index]) < 0) {
            table->column_count = index;
            arrow_table_release(table);
            return -1;
        }
    }
    return 0;
}

void arrow_table_release(struct arrow_table *table)
{
    for (size_t index = 0; index < table->column_count; index++) {
        arrow_column_release(&table->columns[index]);
    }
    if (table->columns) {
        tracker_free(table->columns, table->column_count * sizeof *table->columns);
    }
    memset(table, 0, sizeof *table);
}

int arrow_table_end_row(struct arrow_table *table)
{
    for (size_t index = 0; index < table->column_count; index++) {
        if (table->columns[index].length != table->rows + 1) {
            return -1;
        }
    }
    table->rows++;
    return 0;
}

int arrow_table_full(const struct arrow_table *table)
{
    if (table->rows >= ARROW_BATCH_ROWS) {
        return 1;
    }
    size_t bytes = 0;
    for (size_t index = 0; index < table->column_count; index++) {
        bytes += arrow_column_bytes(&table->columns[index]);
    }
    return bytes >= ARROW_BATCH_BYTES;
}

/* --- schemas ------------------------------------------------------------------ */

/* A schema's children: the pointer array and the child structs, in one
 * block owned by the parent. */
struct schema_children {
    size_t count;
    struct ArrowSchema **pointers;
    struct ArrowSchema *children;
};

/* Children own nothing (static names and formats): releasing one only marks
 * it released, as the interface requires. */
static void field_schema_release(struct ArrowSchema *schema)
{
    schema->release = NULL;
}

static void struct_schema_release(struct ArrowSchema *schema)
{
    struct schema_children *owned = schema->private_data;
    for (size_t index = 0; index < owned->count; index++) {
        if (owned->children[index].release) {
            owned->children[index].release(&owned->children[index]);
        }
    }
    size_t allocated = owned->count ? owned->count : 1;
    tracker_free(owned->pointers, allocated * sizeof *owned->pointers);
    tracker_free(owned->children, allocated * sizeof *owned->children);
    tracker_free(owned, sizeof *owned);
    schema->release = NULL;
}

int arrow_table_export_schema(const struct arrow_table *table, struct ArrowSchema *out)
{
    size_t count = table->column_count;
    struct schema_children *owned = tracker_calloc(1, sizeof *owned);
    if (!owned) {
        return -1;
    }
    owned->count = count;
    owned->pointers = tracker_calloc(count ? count : 1, sizeof *owned->pointers);
    owned->children = tracker_calloc(count ? count : 1, sizeof *owned->children);
    if (!owned->pointers || !owned->children) {
        tracker_free(owned->pointers, (count ? count : 1) * sizeof *owned->pointers);
        tracker_free(owned->children, (count ? count : 1) * sizeof *owned->children);
        tracker_free(owned, sizeof *owned);
        return -1;
    }
    for (size_t index = 0; index < count; index++) {
        const struct arrow_field *field = &table->columns[index].field;
        struct ArrowSchema *child = &owned->children[index];
        child->format = arrow_type_format(field->type);
        child->name = field->name;
        child->flags = field->nullable ? ARROW_FLAG_NULLABLE : 0;
        child->release = field_schema_release;
        owned->pointers[index] = child;
    }
    memset(out, 0, sizeof *out);
    out->format = "+s";
    out->name = "";
    out->n_children = (int64_t)count;
    out->children = owned->pointers;
    out->release = struct_schema_release;
    out->private_data = owned;
    return 0;
}

/* --- batches ------------------------------------------------------------------- */

/* One column's buffers, moved out of its builder; owned by its array. */
struct column_batch {
    const void *buffers[3];
    struct byte_buffer values;
    struct byte_buffer offsets;
    struct byte_buffer validity;
};

static void column_array_release(struct ArrowArray *array)
{
    struct column_batch *owned = array->private_data;
    byte_buffer_release(&owned->values);
    byte_buffer_release(&owned->offsets);
    byte_buffer_release(&owned->validity);
    tracker_free(owned, sizeof *owned);
    array->release = NULL;
}

/* The struct array's children, in one block as for schemas. */
struct batch_children {
    size_t count;     /* children exported */
    size_t allocated; /* slots of the two arrays */
    struct ArrowArray **pointers;
    struct ArrowArray *children;
    const void *buffers[1]; /* the struct's validity: none */
};

static void batch_children_free(struct batch_children *owned)
{
    size_t allocated = owned->allocated;
    tracker_free(owned->pointers, allocated * sizeof *owned->pointers);
    tracker_free(owned->children, allocated * sizeof *owned->children);
    tracker_free(owned, sizeof *owned);
}

static void struct_array_release(struct ArrowArray *array)
{
    struct batch_children *owned = array->private_data;
    for (size_t index = 0; index < owned->count; index++) {
        if (owned->children[index].release) {
            owned->children[index].release(&owned->children[index]);
        }
    }
    batch_children_free(owned);
    array->release = NULL;
}

/* A column's rows as an array: its buffers move into owned, and the column
 * starts again empty. Returns 0 or -1 (memory; the column is unchanged). */
static int column_export(struct arrow_column *column, struct ArrowArray *out)
{
    struct arrow_column fresh;
    struct column_batch *owned = tracker_calloc(1, sizeof *owned);
    if (!owned) {
        return -1;
    }
    if (arrow_column_init(&fresh, &column->field) < 0) {
        tracker_free(owned, sizeof *owned);
        return -1;
    }
    owned->values = column->values;
    owned->offsets = column->offsets;
    owned->validity = column->validity;
    int text = column->field.type == ARROW_TYPE_UTF8;
    owned->buffers[0] = column->field.nullable ? owned->validity.data : NULL;
    owned->buffers[1] = text ? (const void *)owned->offsets.data : owned->values.data;
    owned->buffers[2] = text ? owned->values.data : NULL;
    memset(out, 0, sizeof *out);
    out->length = column->length;
    out->null_count = column->null_count;
    out->n_buffers = text ? 3 : 2;
    out->buffers = owned->buffers;
    out->release = column_array_release;
    out->private_data = owned;
    *column = fresh;
    return 0;
}

/* Empties every column. */
static void table_drop_batch(struct arrow_table *table)
{
    for (size_t index = 0; index < table->column_count; index++) {
        struct arrow_column *column = &table->columns[index];
        column->values.size = column->validity.size = 0;
        column->offsets.size = sizeof(int32_t);
        column->length = column->null_count = 0;
    }
    table->rows = 0;
}

int arrow_table_export_batch(struct arrow_table *table, struct ArrowArray *out)
{
    size_t count = table->column_count;
    size_t allocated = count ? count : 1;
    struct batch_children *owned = tracker_calloc(1, sizeof *owned);
    if (!owned) {
        return -1;
    }
    owned->allocated = allocated;
    owned->pointers = tracker_calloc(allocated, sizeof *owned->pointers);
    owned->children = tracker_calloc(allocated, sizeof *owned->children);
    if (!owned->pointers || !owned->children) {
        batch_children_free(owned);
        return -1;
    }
    int failed = 0;
    for (size_t index = 0; !failed && index < count; index++) {
        failed = column_export(&table->columns[index], &owned->children[index]) < 0;
        owned->pointers[index] = &owned->children[index];
        owned->count = failed ? index : index + 1;
    }
    if (failed) {
        /* Memory ran out: the batch is dropped (the stream then fails). */
        struct ArrowArray partial = {.private_data = owned};
        struct_array_release(&partial);
        table_drop_batch(table);
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->length = table->rows;
    out->n_buffers = 1;
    out->buffers = owned->buffers;
    out->n_children = (int64_t)count;
    out->children = owned->pointers;
    out->release = struct_array_release;
    out->private_data = owned;
    table->rows = 0;
    return 0;
}
