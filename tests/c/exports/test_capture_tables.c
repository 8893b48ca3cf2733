/* The capture tables' streams (core/exports/capture_tables.h) over captures
 * built by hand: one row per allocation with its free matched, live rows at
 * the end, the heap model's replacements and munmaps, the small tables, and
 * a damaged capture failing through get_last_error, never crashing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/exports/capture_tables.h"
#include "core/format/capture_format.h"
#include "tests/c/capture_builder.h"
#include "tests/c/test_harness.h"

/* Column numbers of the allocations table. */
enum { ALLOCATION, ALLOCATED_EVENT, TIME, THREAD, ADDRESS, SIZE, ALLOCATOR, STACK,
       NATIVE_STACK, WEIGHT, PIECE, FREED_EVENT, FREED_TIME, BLOCK_EVENT };

static void build_capture(struct capture_builder *builder)
{
    builder_init(builder);
    builder_default_header(builder, 0);
    builder_string(builder, "hold");         /* sid 1 */
    builder_string(builder, "app.py");       /* sid 2 */
    builder_frame(builder, 1, 2, 10, 0);     /* frame 1 */
    builder_stack(builder, 0, 1);            /* stack 1 */
    builder_time(builder, 100);              /* event 0 */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x1000, 64, 1);  /* 1: event 1 */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x2000, 32, 1);  /* 2: event 2 */
    builder_time(builder, 200);              /* event 3 */
    builder_free(builder, 0x1000);           /* event 4: ends 1 */
    builder_free(builder, 0x9999);           /* event 5: unmatched */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x2000, 16, 0);  /* 3: event 6, replaces 2 */
    builder_snapshot(builder);               /* event 7 */
    builder_alloc(builder, ALLOCATOR_MMAP, 0x100000, 8192, 1); /* 4: event 8 */
    builder_munmap(builder, 0x100000, 4096); /* event 9: head of 4 */
    builder_rss(builder, 1 << 20, 3, 0);     /* event 10 */
    builder_gc(builder, 2, 5, 0, 700);       /* event 11 */
    builder_flush_chunk(builder);
    builder_finish(builder, 300, 0);
}

/* Reads a whole stream; returns its rows in *batches (caller releases). */
static int read_stream(struct ArrowArrayStream *stream, struct ArrowArray *batches, int capacity,
                       int *count)
{
    *count = 0;
    for (;;) {
        struct ArrowArray batch;
        int status = stream->get_next(stream, &batch);
        if (status) {
            return status;
        }
        if (!batch.release) {
            return 0;
        }
        if (*count < capacity) {
            batches[(*count)++] = batch;
        } else {
            batch.release(&batch);
        }
    }
}

static uint64_t value(const struct ArrowArray *batch, int column, int64_t row)
{
    return ((const uint64_t *)batch->children[column]->buffers[1])[row];
}

static uint32_t value32(const struct ArrowArray *batch, int column, int64_t row)
{
    return ((const uint32_t *)batch->children[column]->buffers[1])[row];
}

static int is_null(const struct ArrowArray *batch, int column, int64_t row)
{
    const uint8_t *validity = batch->children[column]->buffers[0];
    return validity && !((validity[row / 8] >> (row % 8)) & 1);
}

static void test_allocation_rows(void)
{
    struct capture_builder builder;
    build_capture(&builder);
    struct capture_error error;
    struct capture_tables *tables =
        capture_tables_open_memory(builder.file.data, builder.file.size, &error);
    CHECK(tables != NULL);
    struct ArrowArrayStream stream;
    CHECK(capture_tables_stream(tables, CAPTURE_TABLE_ALLOCATIONS, &stream, &error) == 0);
    struct ArrowArrayStream second;
    CHECK(capture_tables_stream(tables, CAPTURE_TABLE_ALLOCATIONS, &second, &error) < 0);
    struct ArrowArrayStream early;
    CHECK(capture_tables_stream(tables, CAPTURE_TABLE_RSS, &early, &error) == 0);
    capture_tables_release(tables); /* the streams keep the tables */

    struct ArrowSchema schema;
    CHECK(stream.get_schema(&stream, &schema) == 0);
    CHECK(strcmp(schema.children[FREED_EVENT]->name, "freed_event") == 0);
    schema.release(&schema);

    struct ArrowArray batches[4];
    int count;
    CHECK(read_stream(&stream, batches, 4, &count) == 0);
    CHECK(count == 1);
    const struct ArrowArray *rows = &batches[0];
    /* Died in order: 1 (free), 2 (replaced), the head of 4 (munmap); then
     * the live 3 and the rest of 4, slot by slot. */
    CHECK_EQ_U64(rows->length, 5);
    uint64_t allocation[] = {1, 2, 4, 4, 3};
    uint64_t freed_event[] = {4, 6, 9, 0, 0};
    uint64_t size[] = {64, 32, 4096, 4096, 16};
    uint32_t piece[] = {0, 0, 0, 1, 0};
    for (int64_t row = 0; row < rows->length && row < 5; row++) {
        CHECK_EQ_U64(value(rows, ALLOCATION, row), allocation[row]);
        CHECK_EQ_U64(value(rows, SIZE, row), size[row]);
        CHECK_EQ_U64(value32(rows, PIECE, row), piece[row]);
        CHECK(is_null(rows, FREED_EVENT, row) == (freed_event[row] == 0));
        if (freed_event[row]) {
            CHECK_EQ_U64(value(rows, FREED_EVENT, row), freed_event[row]);
        }
    }
    /* Sorted as 1, 2, 4, 4+, 3 by the rules above; the mapping's rest is at
     * its new start. 3 and 4's rest come in slot order (2's slot went to 3). */
    CHECK_EQ_U64(value(rows, ADDRESS, 3), 0x101000);
    CHECK_EQ_U64(value(rows, ALLOCATED_EVENT, 0), 1);
    CHECK_EQ_U64(value(rows, TIME, 0), 100);
    CHECK_EQ_U64(value(rows, FREED_TIME, 0), 200);
    CHECK_EQ_U64(value32(rows, STACK, 4), 0);
    CHECK(((const double *)rows->children[WEIGHT]->buffers[1])[0] == 1.0);
    const int32_t *offsets = rows->children[ALLOCATOR]->buffers[1];
    CHECK(memcmp((const char *)rows->children[ALLOCATOR]->buffers[2] + offsets[2], "mmap", 4) == 0);
    batches[0].release(&batches[0]);

    CHECK(read_stream(&early, batches, 4, &count) == 0 && count == 1);
    CHECK_EQ_U64(batches[0].length, 1);
    CHECK_EQ_U64(value(&batches[0], 0, 0), 200);     /* the last time before it */
    CHECK_EQ_U64(value(&batches[0], 1, 0), 1 << 20);
    batches[0].release(&batches[0]);
    stream.release(&stream);
    early.release(&early);
    builder_release(&builder);
}

/* The allocations rows of a capture, read whole into *batch (one batch). */
static void read_allocation_rows(struct capture_builder *builder, struct ArrowArray *batch)
{
    struct capture_error error;
    struct capture_tables *tables =
        capture_tables_open_memory(builder->file.data, builder->file.size, &error);
    CHECK(tables != NULL);
    struct ArrowArrayStream stream;
    CHECK(capture_tables_stream(tables, CAPTURE_TABLE_ALLOCATIONS, &stream, &error) == 0);
    capture_tables_release(tables);
    int count;
    CHECK(read_stream(&stream, batch, 1, &count) == 0);
    CHECK(count == 1);
    stream.release(&stream);
}

/* An munmap in the middle of a mapping frees the hole and leaves the head
 * and the tail live (the analysis's rule); one spanning a gap between two
 * mappings releases both. */
static void test_munmap_cuts_a_hole_and_spans_gaps(void)
{
    struct capture_builder builder;
    builder_init(&builder);
    builder_default_header(&builder, 0);
    builder_alloc(&builder, ALLOCATOR_MMAP, 0x200000, 0x10000, 0); /* 1: event 0 */
    builder_munmap(&builder, 0x204000, 0x4000);                     /* event 1: the hole */
    builder_alloc(&builder, ALLOCATOR_MMAP, 0x300000, 0x1000, 0);  /* 2: event 2 */
    builder_alloc(&builder, ALLOCATOR_MMAP, 0x302000, 0x1000, 0);  /* 3: event 3 */
    builder_munmap(&builder, 0x300000, 0x3000);                     /* event 4: both */
    builder_munmap(&builder, 0x20c000, 0x8000);                     /* event 5: tail's end */
    builder_flush_chunk(&builder);
    builder_finish(&builder, 300, 0);
    struct ArrowArray rows;
    read_allocation_rows(&builder, &rows);
    /* Died: the hole, 2, 3, the tail's last 16 KiB; live: the head (slot of
     * 1) and the tail's first 16 KiB (slot taken at the cut). */
    CHECK_EQ_U64(rows.length, 6);
    uint64_t allocation[] = {1, 2, 3, 1, 1, 1};
    uint64_t address[] = {0x204000, 0x300000, 0x302000, 0x20c000, 0x200000, 0x208000};
    uint64_t size[] = {0x4000, 0x1000, 0x1000, 0x4000, 0x4000, 0x4000};
    uint32_t piece[] = {0, 0, 0, 2, 1, 3};
    uint64_t freed_event[] = {1, 4, 4, 5, 0, 0};
    /* Parts taken from a mapping that lived on were no blocks (null); the
     * tail is a block from the hole on. */
    uint64_t block_event[] = {UINT64_MAX, 2, 3, UINT64_MAX, 0, 1};
    for (int64_t row = 0; row < rows.length && row < 6; row++) {
        CHECK(is_null(&rows, BLOCK_EVENT, row) == (block_event[row] == UINT64_MAX));
        if (block_event[row] != UINT64_MAX) {
            CHECK_EQ_U64(value(&rows, BLOCK_EVENT, row), block_event[row]);
        }
        CHECK_EQ_U64(value(&rows, ALLOCATION, row), allocation[row]);
        CHECK_EQ_U64(value(&rows, ADDRESS, row), address[row]);
        CHECK_EQ_U64(value(&rows, SIZE, row), size[row]);
        CHECK_EQ_U64(value32(&rows, PIECE, row), piece[row]);
        CHECK(is_null(&rows, FREED_EVENT, row) == (freed_event[row] == 0));
        if (freed_event[row]) {
            CHECK_EQ_U64(value(&rows, FREED_EVENT, row), freed_event[row]);
        }
    }
    rows.release(&rows);
    builder_release(&builder);
}

static void test_small_tables(void)
{
    struct capture_builder builder;
    build_capture(&builder);
    struct capture_error error;
    struct capture_tables *tables =
        capture_tables_open_memory(builder.file.data, builder.file.size, &error);
    struct ArrowArray batches[2];
    int count;
    /* Asked for first, a small table reads the pass through itself. */
    struct ArrowArrayStream snapshots, stacks, frames, gc, processes;
    CHECK(capture_tables_stream(tables, CAPTURE_TABLE_SNAPSHOTS, &snapshots, &error) == 0);
    CHECK(read_stream(&snapshots, batches, 2, &count) == 0 && count == 1);
    CHECK_EQ_U64(value(&batches[0], 0, 0), 1);
    CHECK_EQ_U64(value(&batches[0], 1, 0), 7);
    batches[0].release(&batches[0]);

    CHECK(capture_tables_stream(tables, CAPTURE_TABLE_STACKS, &stacks, &error) == 0);
    CHECK(read_stream(&stacks, batches, 2, &count) == 0 && count == 1);
    CHECK(batches[0].length == 1 && value32(&batches[0], 2, 0) == 1);
    batches[0].release(&batches[0]);

    CHECK(capture_tables_stream(tables, CAPTURE_TABLE_FRAMES, &frames, &error) == 0);
    CHECK(read_stream(&frames, batches, 2, &count) == 0 && count == 1);
    const int32_t *offsets = batches[0].children[1]->buffers[1];
    CHECK(offsets[1] == 4 && memcmp(batches[0].children[1]->buffers[2], "hold", 4) == 0);
    CHECK_EQ_U64(value32(&batches[0], 3, 0), 10);
    batches[0].release(&batches[0]);

    CHECK(capture_tables_stream(tables, CAPTURE_TABLE_GC, &gc, &error) == 0);
    CHECK(read_stream(&gc, batches, 2, &count) == 0 && count == 1);
    CHECK(value32(&batches[0], 1, 0) == 2 && value(&batches[0], 4, 0) == 700);
    batches[0].release(&batches[0]);

    CHECK(capture_tables_stream(tables, CAPTURE_TABLE_PROCESSES, &processes, &error) == 0);
    CHECK(read_stream(&processes, batches, 2, &count) == 0 && count == 1);
    CHECK_EQ_U64(value(&batches[0], 0, 0), 4242);
    CHECK_EQ_U64(value(&batches[0], 4, 0), 300); /* the footer's end time */
    CHECK_EQ_U64(value(&batches[0], 8, 0), 12);  /* events */
    CHECK_EQ_U64(value(&batches[0], 9, 0), 4);   /* allocations */
    /* The heap: 64, 96, 32, 16 (2 replaced by 3), 8208 (the mapping), 4112. */
    CHECK_EQ_U64(value(&batches[0], 11, 0), 8208);
    CHECK_EQ_U64(value(&batches[0], 12, 0), 8);
    batches[0].release(&batches[0]);

    /* The allocations stream now finds the pass done without it. */
    struct ArrowArrayStream allocations;
    CHECK(capture_tables_stream(tables, CAPTURE_TABLE_ALLOCATIONS, &allocations, &error) == 0);
    CHECK(read_stream(&allocations, batches, 2, &count) == 0);
    for (int index = 0; index < count; index++) {
        batches[index].release(&batches[index]);
    }
    allocations.release(&allocations);
    snapshots.release(&snapshots);
    stacks.release(&stacks);
    frames.release(&frames);
    gc.release(&gc);
    processes.release(&processes);
    capture_tables_release(tables);
    builder_release(&builder);
}

/* Every byte of the records' chunk flipped in turn: the stream either reads
 * to its end or fails with a message, never crashing (ASan checks reads). */
static void test_damage_fails_through_get_last_error(void)
{
    struct capture_builder builder;
    build_capture(&builder);
    int failures = 0;
    for (size_t offset = 0; offset < builder.file.size; offset++) {
        uint8_t *copy = malloc(builder.file.size);
        memcpy(copy, builder.file.data, builder.file.size);
        copy[offset] ^= 0x5a;
        struct capture_error error;
        struct capture_tables *tables = capture_tables_open_memory(copy, builder.file.size, &error);
        if (!tables) {
            free(copy);
            continue;
        }
        for (int kind = 0; kind < CAPTURE_TABLE_COUNT; kind++) {
            struct ArrowArrayStream stream;
            if (capture_tables_stream(tables, (enum capture_table_kind)kind, &stream, &error)) {
                continue;
            }
            struct ArrowArray batches[2];
            int count;
            int status = read_stream(&stream, batches, 2, &count);
            for (int index = 0; index < count; index++) {
                batches[index].release(&batches[index]);
            }
            if (status) {
                failures++;
                CHECK(status == EINVAL);
                const char *message = stream.get_last_error(&stream);
                CHECK(message && message[0] && !strchr(message, '\n'));
            }
            stream.release(&stream);
        }
        capture_tables_release(tables);
        free(copy);
    }
    CHECK(failures > 0); /* some damage is in the records, not only refused at open */
    builder_release(&builder);
}

int main(void)
{
    RUN_TEST(test_allocation_rows);
    RUN_TEST(test_munmap_cuts_a_hole_and_spans_gaps);
    RUN_TEST(test_small_tables);
    RUN_TEST(test_damage_fails_through_get_last_error);
    return test_harness_exit_code();
}
