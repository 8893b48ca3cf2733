/* Column builders and record batches (core/exports/arrow_table.h): the
 * layouts the Arrow columnar format defines, bounded batches, and batches
 * that outlive their table. */
#include <stdlib.h>
#include <string.h>

#include "core/exports/arrow_table.h"
#include "tests/c/test_harness.h"

static const struct arrow_field fields[] = {
    {"count", ARROW_TYPE_UINT64, 0},
    {"name", ARROW_TYPE_UTF8, 1},
    {"weight", ARROW_TYPE_FLOAT64, 0},
    {"small", ARROW_TYPE_UINT32, 1},
    {"flag", ARROW_TYPE_BOOLEAN, 0},
};

static int bit(const void *bitmap, int64_t row)
{
    return (((const uint8_t *)bitmap)[row / 8] >> (row % 8)) & 1;
}

static void append_row(struct arrow_table *table, uint64_t value, const char *name)
{
    struct arrow_column *columns = table->columns;
    CHECK(arrow_column_append_unsigned(&columns[0], value) == 0);
    if (name) {
        CHECK(arrow_column_append_text(&columns[1], name, strlen(name)) == 0);
    } else {
        CHECK(arrow_column_append_null(&columns[1]) == 0);
    }
    CHECK(arrow_column_append_double(&columns[2], (double)value / 2) == 0);
    CHECK(value % 3 ? arrow_column_append_unsigned(&columns[3], value + (UINT64_C(1) << 32)) == 0
                    : arrow_column_append_null(&columns[3]) == 0);
    CHECK(arrow_column_append_unsigned(&columns[4], value % 2) == 0);
    CHECK(arrow_table_end_row(table) == 0);
}

static void test_layouts(void)
{
    struct arrow_table table;
    CHECK(arrow_table_init(&table, fields, 5) == 0);
    append_row(&table, 7, "hold");
    append_row(&table, 8, NULL);
    append_row(&table, 9, "");
    append_row(&table, 10, "leak");
    struct ArrowArray batch;
    CHECK(arrow_table_export_batch(&table, &batch) == 0);
    CHECK_EQ_U64(batch.length, 4);
    CHECK_EQ_U64(batch.n_children, 5);
    CHECK(table.rows == 0 && table.columns[0].length == 0);

    const struct ArrowArray *counts = batch.children[0];
    CHECK_EQ_U64(counts->n_buffers, 2);
    CHECK(counts->buffers[0] == NULL && counts->null_count == 0);
    CHECK_EQ_U64(((const uint64_t *)counts->buffers[1])[3], 10);

    const struct ArrowArray *names = batch.children[1];
    CHECK_EQ_U64(names->n_buffers, 3);
    CHECK_EQ_U64(names->null_count, 1);
    const int32_t *offsets = names->buffers[1];
    CHECK(offsets[0] == 0 && offsets[1] == 4 && offsets[2] == 4 && offsets[3] == 4 &&
          offsets[4] == 8);
    CHECK(memcmp(names->buffers[2], "holdleak", 8) == 0);
    CHECK(bit(names->buffers[0], 0) && !bit(names->buffers[0], 1) && bit(names->buffers[0], 2));

    const struct ArrowArray *smalls = batch.children[3];
    CHECK_EQ_U64(smalls->null_count, 1); /* row 1: 9 % 3 == 0 */
    CHECK(bit(smalls->buffers[0], 0) && bit(smalls->buffers[0], 1) && !bit(smalls->buffers[0], 2));
    CHECK_EQ_U64(((const uint32_t *)smalls->buffers[1])[0], 7); /* low 32 bits */

    const struct ArrowArray *flags = batch.children[4];
    CHECK(bit(flags->buffers[1], 0) && !bit(flags->buffers[1], 1) && bit(flags->buffers[1], 2));
    CHECK(((const double *)batch.children[2]->buffers[1])[1] == 4.0);

    /* The batch owns its buffers: it outlives the table. */
    arrow_table_release(&table);
    CHECK(memcmp(names->buffers[2], "holdleak", 8) == 0);
    batch.release(&batch);
    CHECK(batch.release == NULL);
}

static void test_schema(void)
{
    struct arrow_table table;
    CHECK(arrow_table_init(&table, fields, 5) == 0);
    struct ArrowSchema schema;
    CHECK(arrow_table_export_schema(&table, &schema) == 0);
    CHECK(strcmp(schema.format, "+s") == 0 && schema.n_children == 5);
    const char *formats[] = {"L", "u", "g", "I", "b"};
    for (int index = 0; index < 5; index++) {
        CHECK(strcmp(schema.children[index]->format, formats[index]) == 0);
        CHECK(strcmp(schema.children[index]->name, fields[index].name) == 0);
        CHECK((schema.children[index]->flags & ARROW_FLAG_NULLABLE) ==
              (fields[index].nullable ? ARROW_FLAG_NULLABLE : 0));
    }
    /* A consumer may move a child out and release it apart. */
    struct ArrowSchema moved = *schema.children[1];
    schema.children[1]->release = NULL;
    moved.release(&moved);
    schema.release(&schema);
    CHECK(schema.release == NULL);
    arrow_table_release(&table);
}

static void test_batches_are_bounded(void)
{
    struct arrow_table table;
    CHECK(arrow_table_init(&table, fields, 5) == 0);
    uint64_t rows = 0;
    while (!arrow_table_full(&table)) {
        append_row(&table, rows++, "x");
    }
    CHECK_EQ_U64(rows, ARROW_BATCH_ROWS);
    struct ArrowArray batch;
    CHECK(arrow_table_export_batch(&table, &batch) == 0);
    CHECK_EQ_U64(batch.children[0]->length, ARROW_BATCH_ROWS);
    CHECK(!arrow_table_full(&table));
    /* The next batch starts from nothing: offsets from 0 again. */
    append_row(&table, 1, "again");
    struct ArrowArray next;
    CHECK(arrow_table_export_batch(&table, &next) == 0);
    CHECK_EQ_U64(((const int32_t *)next.children[1]->buffers[1])[1], 5);
    batch.release(&batch);
    next.release(&next);
    arrow_table_release(&table);
}

static void test_misuse_is_refused(void)
{
    struct arrow_table table;
    CHECK(arrow_table_init(&table, fields, 5) == 0);
    CHECK(arrow_column_append_null(&table.columns[0]) < 0); /* not nullable */
    CHECK(arrow_column_append_unsigned(&table.columns[0], 1) == 0);
    CHECK(arrow_table_end_row(&table) < 0); /* the other columns lack the row */
    arrow_table_release(&table);
}

int main(void)
{
    RUN_TEST(test_layouts);
    RUN_TEST(test_schema);
    RUN_TEST(test_batches_are_bounded);
    RUN_TEST(test_misuse_is_refused);
    return test_harness_exit_code();
}
