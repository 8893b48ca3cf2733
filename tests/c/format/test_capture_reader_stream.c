/* Events chunks that are parts of one zstd frame (CHUNK_KIND_STREAM_*):
 * each reads once the parts before it have, a part without the start of
 * its frame or one that ends the frame is damage, and the real writer's
 * chunks read back whole whatever their sizes and pace. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/format/capture_file_internal.h"
#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "core/format/capture_writer.h"
#include "tests/c/capture_builder.h"
#include "tests/c/format/capture_reader_fixture.h"
#include "tests/c/temporary_capture.h"
#include "tests/c/test_harness.h"

/* Definitions and one allocation in a START chunk, then chunks of
 * allocations of stack 1 at 0x1000 * (chunk + 1), each starting a frame
 * where starts[chunk] says so. offsets: of the events chunks. */
static void build_stream(struct capture_builder *builder, const int *starts, size_t chunks,
                         uint64_t *offsets)
{
    builder_init(builder);
    builder_default_header(builder, 0);
    builder_string(builder, "main");
    builder_string(builder, "app.py");
    builder_frame(builder, 1, 2, 10, 0);
    builder_stack(builder, 0, 1);
    for (size_t chunk = 0; chunk < chunks; chunk++) {
        builder_alloc(builder, ALLOCATOR_MALLOC, 0x1000 * (chunk + 1), 64 + chunk, 1);
        offsets[chunk] = builder_flush_stream_chunk(builder, starts[chunk], 0);
    }
}

/* The allocations read from data: their sizes go to sizes (at most max). */
static size_t read_allocation_sizes(const uint8_t *data, size_t size, uint64_t *sizes,
                                    size_t max)
{
    struct capture_error error;
    struct capture_reader *reader = capture_reader_open_memory(data, size, &error);
    CHECK(reader != NULL);
    struct capture_record record;
    size_t count = 0;
    int status;
    while (reader && (status = capture_reader_next(reader, &record)) == 1) {
        if (record.kind == CAPTURE_RECORD_ALLOCATION && count < max) {
            CHECK_EQ_U64(record.address, 0x1000 * (count + 1));
            sizes[count++] = record.size;
        }
    }
    CHECK(!reader || status == 0);
    capture_reader_close(reader);
    return count;
}

static void test_parts_of_frames_read_in_order(void)
{
    const int starts[] = {1, 0, 0, 1, 0};
    uint64_t offsets[5];
    struct capture_builder builder;
    build_stream(&builder, starts, 5, offsets);
    builder_finish(&builder, 9000, 4096);
    uint64_t sizes[5];
    CHECK_EQ_U64(read_allocation_sizes(builder.file.data, builder.file.size, sizes, 5), 5);
    for (size_t chunk = 0; chunk < 5; chunk++) {
        CHECK_EQ_U64(sizes[chunk], 64 + chunk);
    }
    builder_release(&builder);
}

static void test_part_without_its_start(void)
{
    const int starts[] = {0, 0};
    uint64_t offsets[2];
    struct capture_builder builder;
    build_stream(&builder, starts, 2, offsets);
    builder_finish(&builder, 9000, 4096);
    char expected[128];
    snprintf(expected, sizeof expected,
             "chunk at offset %llu: the chunk continues a zstd frame that no chunk began",
             (unsigned long long)offsets[0]);
    CHECK_DAMAGED(builder.file.data, builder.file.size, expected);
    builder_release(&builder);
}

/* A part after a chunk that is a frame of its own continues nothing. */
static void test_part_after_a_whole_frame(void)
{
    struct capture_builder builder;
    builder_init(&builder);
    builder_default_header(&builder, 0);
    builder_time(&builder, 1);
    builder_flush_stream_chunk(&builder, 1, 0);
    builder_time(&builder, 2);
    builder_flush_chunk(&builder);
    builder_time(&builder, 3);
    builder_flush_stream_chunk(&builder, 0, 0);
    builder_finish(&builder, 9000, 4096);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "no chunk began");
    builder_release(&builder);
}

static void test_part_that_ends_its_frame(void)
{
    struct capture_builder builder;
    builder_init(&builder);
    builder_default_header(&builder, 0);
    builder_time(&builder, 1);
    builder_flush_stream_chunk(&builder, 1, 1);
    builder_finish(&builder, 9000, 4096);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "ends its zstd frame");
    builder_release(&builder);
}

static void test_part_sizes_must_match(void)
{
    const int starts[] = {1, 0};
    uint64_t offsets[2];
    struct capture_builder builder;
    build_stream(&builder, starts, 2, offsets);
    builder_finish(&builder, 9000, 4096);
    uint8_t *first = builder.file.data + offsets[0];
    uint32_t size = (uint32_t)(first[5] | first[6] << 8);
    builder_put_u32(first + 5, size - 1);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "more than the");
    builder_put_u32(first + 5, size + 1);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "the chunk header says");
    builder_release(&builder);
}

static void test_stream_chunks_need_version_2(void)
{
    struct capture_builder builder;
    builder_init(&builder);
    builder_header(&builder, 1, &(struct byte_buffer){0});
    builder_time(&builder, 1);
    builder_flush_stream_chunk(&builder, 1, 0);
    builder_finish(&builder, 9000, 4096);
    CHECK_DAMAGED(builder.file.data, builder.file.size,
                  "unknown chunk kind 4 (capture format version 1)");
    builder_release(&builder);
}

/* A version 1 capture: parents by id, one address state for all threads. */
static void test_version_1_records(void)
{
    struct capture_builder builder;
    builder_init(&builder);
    builder_header(&builder, 1, &(struct byte_buffer){0});
    builder_string(&builder, "main");
    builder_frame(&builder, 1, 1, 1, 0);
    builder_stack(&builder, 0, 1);
    builder_stack(&builder, 1, 1);
    builder_switch_thread(&builder, 1);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x1000, 8, 2);
    builder_switch_thread(&builder, 2);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x1800, 8, 2);
    builder_switch_thread(&builder, 1);
    builder_free(&builder, 0x1000);
    builder_flush_chunk(&builder);
    builder_finish(&builder, 9000, 4096);
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    CHECK(reader != NULL);
    const uint64_t addresses[] = {0x1000, 0x1800, 0x1000};
    struct capture_record record;
    size_t seen = 0;
    while (reader && capture_reader_next(reader, &record) == 1) {
        if (record.kind == CAPTURE_RECORD_ALLOCATION || record.kind == CAPTURE_RECORD_FREE) {
            CHECK(seen < 3 && record.address == addresses[seen]);
            seen++;
        }
    }
    CHECK_EQ_U64(seen, 3);
    const struct capture_stack *stack = reader ? capture_reader_stack(reader, 2) : NULL;
    CHECK(stack && stack->parent_stack_id == 1);
    capture_reader_close(reader);
    builder_release(&builder);
}

/* Cut anywhere, an unclosed stream reads every whole part before the cut. */
static void test_truncated_stream(void)
{
    const int starts[] = {1, 0, 0, 0};
    uint64_t offsets[4];
    struct capture_builder builder;
    build_stream(&builder, starts, 4, offsets);
    size_t end = builder.file.size;
    for (size_t cut = offsets[0]; cut <= end; cut++) {
        size_t whole = 0;
        while (whole < 4 && (whole + 1 < 4 ? offsets[whole + 1] : end) <= cut) {
            whole++;
        }
        uint64_t sizes[4];
        size_t count = read_allocation_sizes(builder.file.data, cut, sizes, 4);
        if (count != whole) {
            fprintf(stderr, "cut at %zu: %zu allocations, expected %zu\n", cut, count, whole);
            CHECK(!"allocations of a truncated stream");
            break;
        }
    }
    builder_release(&builder);
}

/* A real writer on a temporary capture, and records of one stack to give it. */
static void begin_writing(struct capture_writer *writer, char *path,
                          struct capture_builder *records)
{
    temporary_capture_begin(writer, path);
    builder_init(records);
    builder_string(records, "main");
    builder_frame(records, 1, 1, 1, 0);
    builder_stack(records, 0, 1);
}

/* The real writer: chunks of changing sizes (so of both paces, and more
 * than a frame holds) read back in order, each with its allocations. */
static void test_writer_chunks_read_back(void)
{
    char path[TEMPORARY_CAPTURE_PATH_SIZE];
    struct capture_writer writer;
    struct capture_builder records;
    begin_writing(&writer, path, &records);
    uint64_t expected = 0;
    const size_t chunks = 80;
    for (size_t chunk = 0; chunk < chunks; chunk++) {
        size_t allocations = chunk % 7 == 3 ? 40000 : 1 + chunk;
        for (size_t index = 0; index < allocations; index++) {
            expected++;
            builder_alloc(&records, ALLOCATOR_MALLOC, 0x1000 * expected, expected, 1);
        }
        CHECK(capture_writer_write_events(&writer, records.records.data,
                                          records.records.size) == 0);
        builder_clear_records(&records);
    }
    struct capture_reader *reader = temporary_capture_finish(&writer, path);
    struct capture_record record;
    uint64_t seen = 0;
    int status;
    while (reader && (status = capture_reader_next(reader, &record)) == 1) {
        if (record.kind == CAPTURE_RECORD_ALLOCATION) {
            seen++;
            CHECK_EQ_U64(record.size, seen);
            CHECK_EQ_U64(record.address, 0x1000 * seen);
        }
    }
    CHECK(reader && status == 0);
    CHECK_EQ_U64(seen, expected);
    CHECK(reader && capture_reader_chunks_read(reader) == chunks);
    capture_reader_close(reader);
    builder_release(&records);
    unlink(path);
}

/* The kinds of the events chunks in the capture at path, in file order;
 * returns how many (at most max). */
static size_t chunk_kinds(const char *path, int *kinds, size_t max)
{
    FILE *file = fopen(path, "rb");
    CHECK(file != NULL);
    uint8_t head[CAPTURE_CHUNK_HEADER_SIZE];
    size_t count = 0;
    if (!file || fread(head, 1, CAPTURE_FILE_HEADER_FIXED_SIZE, file) !=
                     CAPTURE_FILE_HEADER_FIXED_SIZE) {
        CHECK(!"a header");
        return 0;
    }
    /* its fields, then their CRC-32 */
    fseek(file, (long)read_u32(head + CAPTURE_FILE_HEADER_FIXED_SIZE - 4) + 4, SEEK_CUR);
    while (count < max && fread(head, 1, sizeof head, file) == sizeof head) {
        if (!capture_chunk_kind_is_events(head[0])) {
            break;
        }
        kinds[count++] = head[0];
        fseek(file, (long)read_u32(head + 1), SEEK_CUR); /* its compressed bytes */
    }
    fclose(file);
    return count;
}

/* Writes chunks of at least sizes[i] bytes of allocation records; returns
 * the events chunks' kinds as chunk_kinds does. */
static size_t write_chunks_of(const size_t *sizes, size_t chunks, int *kinds)
{
    char path[TEMPORARY_CAPTURE_PATH_SIZE];
    struct capture_writer writer;
    struct capture_builder records;
    begin_writing(&writer, path, &records);
    uint64_t address = 0;
    for (size_t chunk = 0; chunk < chunks; chunk++) {
        while (records.records.size < sizes[chunk]) {
            address += 0x1000 + (address * 2654435761u) % 4096;
            builder_alloc(&records, ALLOCATOR_MALLOC, address, 24 + address % 1000, 1);
        }
        CHECK(capture_writer_write_events(&writer, records.records.data,
                                          records.records.size) == 0);
        builder_clear_records(&records);
    }
    struct capture_reader *reader = temporary_capture_finish(&writer, path);
    capture_reader_close(reader);
    size_t count = chunk_kinds(path, kinds, chunks);
    builder_release(&records);
    unlink(path);
    return count;
}

/* One busy chunk among quiet ones stays in the quiet frame; a run of them
 * begins a frame at the fast level (on its third), and a run of quiet ones
 * after that one at the dense level again. */
static void test_one_odd_chunk_keeps_the_frame(void)
{
    enum { QUIET = 20000, BUSY = 200000 };
    const size_t sizes[] = {100000, QUIET, QUIET, BUSY, QUIET, QUIET, BUSY, BUSY, BUSY, BUSY,
                            QUIET, QUIET, QUIET, QUIET};
    const size_t chunks = sizeof sizes / sizeof sizes[0];
    int kinds[sizeof sizes / sizeof sizes[0]];
    CHECK_EQ_U64(write_chunks_of(sizes, chunks, kinds), chunks);
    for (size_t chunk = 0; chunk < chunks; chunk++) {
        int starts = chunk == 0 || chunk == 8 || chunk == 12;
        if (kinds[chunk] != (starts ? CHUNK_KIND_STREAM_START : CHUNK_KIND_STREAM_NEXT)) {
            fprintf(stderr, "chunk %zu: kind %d\n", chunk, kinds[chunk]);
            CHECK(!"frame starts at chunks 0, 8 and 12 only");
        }
    }
}

/* A small first chunk (a short program's) gets a frame of small tables,
 * which ends after a few times their reach; the next frame is a full one. */
static void test_a_small_first_chunk_gets_a_short_first_frame(void)
{
    const size_t sizes[] = {3000, 3000, 3000, 3000, 3000, 3000, 3000, 3000, 3000, 3000};
    const size_t chunks = sizeof sizes / sizeof sizes[0];
    int kinds[sizeof sizes / sizeof sizes[0]];
    CHECK_EQ_U64(write_chunks_of(sizes, chunks, kinds), chunks);
    size_t starts = 0;
    for (size_t chunk = 0; chunk < chunks; chunk++) {
        starts += kinds[chunk] == CHUNK_KIND_STREAM_START;
    }
    CHECK_EQ_U64(kinds[0], CHUNK_KIND_STREAM_START);
    CHECK_EQ_U64(starts, 2); /* 2^12 entries x 4 = 16 KiB: the 6th chunk begins the second */
    CHECK_EQ_U64(kinds[5], CHUNK_KIND_STREAM_START);
}

int main(void)
{
    RUN_TEST(test_parts_of_frames_read_in_order);
    RUN_TEST(test_part_without_its_start);
    RUN_TEST(test_part_after_a_whole_frame);
    RUN_TEST(test_part_that_ends_its_frame);
    RUN_TEST(test_part_sizes_must_match);
    RUN_TEST(test_stream_chunks_need_version_2);
    RUN_TEST(test_version_1_records);
    RUN_TEST(test_truncated_stream);
    RUN_TEST(test_writer_chunks_read_back);
    RUN_TEST(test_one_odd_chunk_keeps_the_frame);
    RUN_TEST(test_a_small_first_chunk_gets_a_short_first_frame);
    return test_harness_exit_code();
}
