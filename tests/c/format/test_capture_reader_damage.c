/* The capture reader on damaged and hostile files: every kind of damage to
 * the header, a chunk, the records, the trailer, the footer and its chunk
 * index gives a one-line error, and random damage never crashes it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "core/format/crc32.h"
#include "tests/c/capture_builder.h"
#include "tests/c/format/capture_reader_fixture.h"
#include "tests/c/hostile_captures.h"
#include "tests/c/test_harness.h"
#include "core/base/tracker_memory.h"

static void test_bad_magic(void)
{
    struct capture_builder builder;
    build_standard(&builder, NULL);
    builder.file.data[0] = 'X';
    CHECK_DAMAGED(builder.file.data, builder.file.size, "not a memlyze capture (bad magic");
    CHECK_DAMAGED(builder.file.data, 2, "not a memlyze capture");
    CHECK_DAMAGED("", 0, "not a memlyze capture");
    CHECK_DAMAGED(NULL, 0, "not a memlyze capture");
    builder_release(&builder);
}

static void test_newer_version(void)
{
    struct capture_builder builder;
    build_standard(&builder, NULL);
    builder.file.data[4] = 7;
    CHECK_DAMAGED(builder.file.data, builder.file.size,
                  "capture format version 7 is newer than this memlyze supports (2)");
    builder.file.data[4] = 0;
    CHECK_DAMAGED(builder.file.data, builder.file.size, "format version 0");
    builder_release(&builder);
}

static void test_header_damage(void)
{
    struct capture_builder builder;
    build_standard(&builder, NULL);
    builder.file.data[14] ^= 0x40;
    CHECK_DAMAGED(builder.file.data, builder.file.size, "file header: checksum mismatch");
    builder.file.data[14] ^= 0x40;
    CHECK_DAMAGED(builder.file.data, 10, "file header: truncated");
    CHECK_DAMAGED(builder.file.data, 20, "file header: truncated");
    builder.file.data[6] = 1;
    CHECK_DAMAGED(builder.file.data, builder.file.size, "unknown flags");
    builder.file.data[6] = 0;
    builder_put_u32(builder.file.data + 8, CAPTURE_MAX_CHUNK_SIZE + 1);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "exceeds the limit");
    builder_release(&builder);
}

static void test_flipped_byte_in_a_chunk(void)
{
    struct capture_builder builder;
    uint64_t offsets[3];
    build_standard(&builder, offsets);
    builder.file.data[offsets[0] + CAPTURE_CHUNK_HEADER_SIZE + 3] ^= 0x01;
    char expected[64];
    snprintf(expected, sizeof expected, "chunk at offset %llu: checksum mismatch",
             (unsigned long long)offsets[0]);
    CHECK_DAMAGED(builder.file.data, builder.file.size, expected);
    builder.file.data[offsets[0] + CAPTURE_CHUNK_HEADER_SIZE + 3] ^= 0x01;
    /* The second chunk: the first chunk's records come out before the error. */
    builder.file.data[offsets[1] + CAPTURE_CHUNK_HEADER_SIZE + 2] ^= 0x10;
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    size_t count = 0;
    CHECK(reader && read_all(reader, &count) == -1);
    CHECK_EQ_U64(count, 3);
    capture_reader_close(reader);
    /* The footer. */
    builder.file.data[offsets[1] + CAPTURE_CHUNK_HEADER_SIZE + 2] ^= 0x10;
    builder.file.data[offsets[2] + CAPTURE_CHUNK_HEADER_SIZE + 1] ^= 0x04;
    snprintf(expected, sizeof expected, "footer chunk at offset %llu: checksum mismatch",
             (unsigned long long)offsets[2]);
    CHECK_DAMAGED(builder.file.data, builder.file.size, expected);
    builder_release(&builder);
}

static void test_out_of_range_ids(void)
{
    struct capture_builder builder;
    build_prefix(&builder);
    builder_frame(&builder, 2, 1, 1, 0);
    CLOSE_AND_CHECK(&builder, "function string id 2 is not defined (1 are)");
    build_prefix(&builder);
    builder_frame(&builder, 1, 5, 1, 0);
    CLOSE_AND_CHECK(&builder, "file string id 5 is not defined");
    build_prefix(&builder);
    builder_stack(&builder, 0, 2);
    CLOSE_AND_CHECK(&builder, "frame id 2 is not defined");
    build_prefix(&builder);
    builder_stack(&builder, 2, 1);
    CLOSE_AND_CHECK(&builder, "parent stack 0 back from stack 2 is not defined");
    build_prefix(&builder);
    builder_stack(&builder, 1, 0);
    CLOSE_AND_CHECK(&builder, "without a frame");
    build_prefix(&builder);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x10, 1, 1);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x20, 1, 2);
    CLOSE_AND_CHECK(&builder, "stack id 2 is not defined (1 are)");
    build_prefix(&builder);
    builder_thread(&builder, 1, 100, 9);
    CLOSE_AND_CHECK(&builder, "thread name string id 9 is not defined");
    build_prefix(&builder);
    builder_frame(&builder, 1, 1, (uint64_t)UINT32_MAX + 1, 0);
    CLOSE_AND_CHECK(&builder, "line 4294967296 is out of range");
    build_prefix(&builder);
    builder_frame_module(&builder, 2, 1);
    CLOSE_AND_CHECK(&builder, "frame id 2 is not defined (1 are)");
    build_prefix(&builder);
    builder_frame_module(&builder, 1, 2);
    CLOSE_AND_CHECK(&builder, "module string id 2 is not defined");
    build_prefix(&builder);
    builder_frame_module(&builder, 0, 1);
    CLOSE_AND_CHECK(&builder, "a module for no frame");
    build_prefix(&builder);
    builder_gc(&builder, 3, 0, 0, 0);
    CLOSE_AND_CHECK(&builder, "gc generation 3 is out of range");
    build_prefix(&builder);
    builder_switch_thread(&builder, UINT64_MAX);
    CLOSE_AND_CHECK(&builder, "thread id 18446744073709551615 is out of range");
}

static void test_malformed_records(void)
{
    struct capture_builder builder;
    const uint8_t overlong[] = {OP_TIME, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                0x80, 0x80, 0x80, 0x80, 0x01};
    build_prefix(&builder);
    builder_raw(&builder, overlong, sizeof overlong);
    CLOSE_AND_CHECK(&builder, "record at byte 11: a varint is longer than 64 bits");
    const uint8_t cut[] = {OP_TIME, 0x80};
    build_prefix(&builder);
    builder_raw(&builder, cut, sizeof cut);
    CLOSE_AND_CHECK(&builder, "the data ends inside a varint");
    const uint8_t long_string[] = {OP_STRING, 20, 'a', 'b'};
    build_prefix(&builder);
    builder_raw(&builder, long_string, sizeof long_string);
    CLOSE_AND_CHECK(&builder, "a string of 20 bytes runs past the end of the chunk");
    const uint8_t unknown[] = {0x2A};
    build_prefix(&builder);
    builder_raw(&builder, unknown, sizeof unknown);
    CLOSE_AND_CHECK(&builder, "unknown opcode 0x2a");
    const uint8_t past_allocators[] = {OP_ALLOC + ALLOCATOR_COUNT, 0, 0, 0};
    build_prefix(&builder);
    builder_raw(&builder, past_allocators, sizeof past_allocators);
    CLOSE_AND_CHECK(&builder, "unknown opcode 0x1c");
    const uint8_t zero[] = {0x00};
    build_prefix(&builder);
    builder_raw(&builder, zero, sizeof zero);
    CLOSE_AND_CHECK(&builder, "unknown opcode 0x00");
}

/* Builds header + one events chunk + footer, where the events chunk is
 * replaced by the given raw chunk bytes. */
static void build_with_raw_chunk(struct capture_builder *builder, const uint8_t *chunk,
                                 size_t size)
{
    builder_init(builder);
    builder_default_header(builder, 0);
    uint64_t offset = builder->file.size;
    byte_buffer_append(&builder->file, chunk, size);
    byte_buffer_append(&builder->chunk_offsets, &offset, sizeof offset);
    builder_finish(builder, 1, 0);
}

static void test_chunk_header_damage(void)
{
    struct capture_builder builder;
    uint64_t offsets[3];
    build_standard(&builder, offsets);
    uint8_t *chunk = builder.file.data + offsets[0];
    chunk[0] = 7;
    CHECK_DAMAGED(builder.file.data, builder.file.size, "unknown chunk kind 7");
    chunk[0] = CHUNK_KIND_FOOTER;
    CHECK_DAMAGED(builder.file.data, builder.file.size, "a footer before the end of the file");
    chunk[0] = CHUNK_KIND_EVENTS;
    uint8_t saved[4];
    memcpy(saved, chunk + 5, 4);
    builder_put_u32(chunk + 5, CAPTURE_MAX_CHUNK_SIZE + 1);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "exceed the limit");
    builder_put_u32(chunk + 5, 3);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "zstd:");
    builder_put_u32(chunk + 5, 100000);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "header says 100000");
    memcpy(chunk + 5, saved, 4);
    memcpy(saved, chunk + 1, 4);
    builder_put_u32(chunk + 1, 1u << 20);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "only");
    builder_release(&builder);
}

static void test_two_zstd_frames(void)
{
    struct capture_builder frames;
    builder_init(&frames);
    uint8_t payload[] = {OP_TIME, 1};
    builder_chunk(&frames, CHUNK_KIND_EVENTS, payload, 1);
    builder_chunk(&frames, CHUNK_KIND_EVENTS, payload + 1, 1);
    /* Glue both compressed frames into one chunk claiming 2 bytes. */
    uint8_t chunk[256];
    uint8_t *first = frames.file.data;
    uint32_t first_size = (uint32_t)(first[1] | first[2] << 8);
    uint8_t *second = first + CAPTURE_CHUNK_HEADER_SIZE + first_size;
    uint32_t second_size = (uint32_t)(second[1] | second[2] << 8);
    uint32_t total = first_size + second_size;
    memcpy(chunk + CAPTURE_CHUNK_HEADER_SIZE, first + CAPTURE_CHUNK_HEADER_SIZE, first_size);
    memcpy(chunk + CAPTURE_CHUNK_HEADER_SIZE + first_size, second + CAPTURE_CHUNK_HEADER_SIZE,
           second_size);
    chunk[0] = CHUNK_KIND_EVENTS;
    builder_put_u32(chunk + 1, total);
    builder_put_u32(chunk + 5, 2);
    builder_put_u32(chunk + 9, crc32_compute(chunk + CAPTURE_CHUNK_HEADER_SIZE, total));
    struct capture_builder builder;
    build_with_raw_chunk(&builder, chunk, CAPTURE_CHUNK_HEADER_SIZE + total);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "not one zstd frame");
    builder_release(&builder);
    builder_release(&frames);
}

static void test_trailer_and_index_damage(void)
{
    struct capture_builder builder;
    uint64_t offsets[3];
    build_standard(&builder, offsets);
    uint8_t *trailer = builder.file.data + builder.file.size - CAPTURE_TRAILER_SIZE;
    trailer[0] ^= 0x01;
    CHECK_DAMAGED(builder.file.data, builder.file.size, "footer chunk at offset");
    trailer[0] ^= 0x01;
    trailer[5] = 0x7f;
    CHECK_DAMAGED(builder.file.data, builder.file.size, "footer offset");
    trailer[5] = 0;
    trailer[0] = (uint8_t)offsets[1];
    trailer[1] = (uint8_t)(offsets[1] >> 8);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "not a footer");
    builder_release(&builder);

    /* A chunk index that misses a chunk, and one listing too many. */
    build_prefix(&builder);
    builder_flush_chunk(&builder);
    builder_time(&builder, 5);
    uint64_t second = builder_flush_chunk(&builder);
    builder.chunk_offsets.size = sizeof(uint64_t);
    builder_finish(&builder, 10, 0);
    char expected[96];
    snprintf(expected, sizeof expected,
             "chunk at offset %llu: missing from the footer's chunk index",
             (unsigned long long)second);
    CHECK_DAMAGED(builder.file.data, builder.file.size, expected);
    builder_release(&builder);

    build_prefix(&builder);
    uint64_t only = builder_flush_chunk(&builder);
    byte_buffer_append(&builder.chunk_offsets, &only, sizeof only);
    builder_finish(&builder, 10, 0);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "out of order or range");
    builder_release(&builder);

    struct byte_buffer fields = {0};
    byte_buffer_append_tlv_bytes(&fields, FOOTER_CHUNK_OFFSETS, "\x01\x01", 2);
    build_prefix(&builder);
    builder_flush_chunk(&builder);
    builder_finish_with_fields(&builder, &fields);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "chunk index entry 0 is out of order");
    builder_release(&builder);
    byte_buffer_release(&fields);
}

/* Appends a trailer pointing at footer_offset. */
static void append_trailer(struct capture_builder *builder, uint64_t footer_offset)
{
    uint8_t trailer[CAPTURE_TRAILER_SIZE];
    for (int index = 0; index < 8; index++) {
        trailer[index] = (uint8_t)(footer_offset >> (8 * index));
    }
    memcpy(trailer + 8, CAPTURE_TRAILER_MAGIC, CAPTURE_TRAILER_MAGIC_SIZE);
    byte_buffer_append(&builder->file, trailer, sizeof trailer);
}

static void test_footer_damage(void)
{
    /* The index lists a chunk the file does not have. */
    struct capture_builder builder;
    build_prefix(&builder);
    uint64_t only = builder_flush_chunk(&builder);
    uint64_t phantom = only + 1;
    byte_buffer_append(&builder.chunk_offsets, &phantom, sizeof phantom);
    builder_finish(&builder, 10, 0);
    CHECK_DAMAGED(builder.file.data, builder.file.size,
                  "the footer's chunk index lists 2 chunks, the file has 1");
    builder_release(&builder);

    /* Bytes between the footer and the trailer. */
    build_prefix(&builder);
    builder_flush_chunk(&builder);
    uint64_t footer = builder_chunk(&builder, CHUNK_KIND_FOOTER, "", 0);
    byte_buffer_append(&builder.file, "xyz", 3);
    append_trailer(&builder, footer);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "the trailer starts at");
    builder_release(&builder);

    /* A chunk index with bytes after its entries. */
    struct byte_buffer fields = {0};
    byte_buffer_append_tlv_bytes(&fields, FOOTER_CHUNK_OFFSETS, "\x00\x05", 2);
    builder_init(&builder);
    builder_default_header(&builder, 0);
    builder_finish_with_fields(&builder, &fields);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "the chunk index has 1 bytes too many");
    builder_release(&builder);
    byte_buffer_release(&fields);
}

/* Reads a capture that must be valid; returns its number of events. */
static size_t read_valid(const struct capture_builder *builder)
{
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder->file.data, builder->file.size, &error);
    CHECK(reader != NULL);
    if (!reader) {
        fprintf(stderr, "%s\n", error.message);
        return 0;
    }
    size_t count = 0;
    int status = read_all(reader, &count);
    if (status != 0) {
        fprintf(stderr, "%s\n", capture_reader_error(reader)->message);
    }
    CHECK(status == 0);
    capture_reader_close(reader);
    return count;
}

/* Sizes above 2^48 (no block is that large) and totals above 2^62 are
 * refused: two of 2^63 bytes once gave a peak above the total. */
static void test_allocation_sizes_out_of_range(void)
{
    struct capture_builder builder;
    hostile_large_allocations(&builder, UINT64_C(1) << 63);
    CHECK_DAMAGED(builder.file.data, builder.file.size,
                  "record at byte 11: allocation size 9223372036854775808 is above the limit of "
                  "2^48 bytes");
    builder_release(&builder);
    hostile_large_allocations(&builder, (UINT64_C(1) << 48) + 1);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "allocation size 281474976710657");
    builder_release(&builder);
    hostile_large_allocations(&builder, UINT64_C(1) << 48);
    CHECK_EQ_U64(read_valid(&builder), 3);
    builder_release(&builder);

    /* 2^14 blocks of 2^48 bytes make exactly 2^62; one more is too many. */
    build_prefix(&builder);
    for (uint64_t block = 0; block <= (UINT64_C(1) << 14); block++) {
        builder_alloc(&builder, ALLOCATOR_MALLOC, 0x1000 + 16 * block, UINT64_C(1) << 48, 1);
    }
    CLOSE_AND_CHECK(&builder, "the allocated bytes add up to more than 2^62");
}

/* A stack naming a later one as parent is refused (so no cycle can be
 * built), and so is a footer claiming centuries or exbibytes; a deep chain
 * is read as it is. */
static void test_hostile_shapes(void)
{
    struct capture_builder builder;
    hostile_cyclic_stacks(&builder);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "back from stack 1 is not defined");
    builder_release(&builder);
    hostile_deep_stack(&builder, 20000);
    CHECK_EQ_U64(read_valid(&builder), 2);
    builder_release(&builder);
    hostile_huge_counts(&builder);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "footer field 1 is out of range");
    builder_release(&builder);
}

/* Sample rates and sampling means outside what the recorder can write. */
static void test_sampling_out_of_range(void)
{
    struct capture_builder builder;
    const struct {
        double rate;
        const char *expected;
    } rates[] = {
        {1e-12, "file header: sample rate 1e-12 is not in [1e-09, 1]"},
        {3.6e-304, "sample rate 3.6e-304 is not in"},
        {NAN, "sample rate nan is not in"},
        {INFINITY, "sample rate inf is not in"},
        {0.0, "sample rate 0 is not in"},
    };
    for (size_t index = 0; index < sizeof rates / sizeof rates[0]; index++) {
        hostile_sample_rate(&builder, rates[index].rate);
        CHECK_DAMAGED(builder.file.data, builder.file.size, rates[index].expected);
        builder_release(&builder);
    }
    hostile_sample_rate(&builder, CAPTURE_MIN_SAMPLE_RATE);
    CHECK_EQ_U64(read_valid(&builder), 2);
    builder_release(&builder);

    hostile_sample_interval(&builder, CAPTURE_MAX_SAMPLE_INTERVAL + 1);
    CHECK_DAMAGED(builder.file.data, builder.file.size,
                  "sample interval 1099511627777 is above the limit of 1099511627776 bytes");
    builder_release(&builder);
    hostile_sample_interval(&builder, CAPTURE_MAX_SAMPLE_INTERVAL);
    CHECK_EQ_U64(read_valid(&builder), 2);
    builder_release(&builder);

    hostile_sampling_record(&builder, CAPTURE_SAMPLING_BY_BYTES, CAPTURE_MAX_SAMPLE_INTERVAL + 1);
    CHECK_DAMAGED(builder.file.data, builder.file.size,
                  "sampling mode 1 with mean 1099511627777 is invalid");
    builder_release(&builder);
    hostile_sampling_record(&builder, CAPTURE_SAMPLING_BY_ALLOCATIONS, CAPTURE_MAX_SAMPLE_GAP + 1);
    CHECK_DAMAGED(builder.file.data, builder.file.size,
                  "sampling mode 2 with mean 1000000001 is invalid");
    builder_release(&builder);
    hostile_sampling_record(&builder, CAPTURE_SAMPLING_BY_ALLOCATIONS, CAPTURE_MAX_SAMPLE_GAP);
    CHECK_EQ_U64(read_valid(&builder), 3);
    builder_release(&builder);
    hostile_sampling_record(&builder, CAPTURE_SAMPLING_BY_BYTES, CAPTURE_MAX_SAMPLE_INTERVAL);
    CHECK_EQ_U64(read_valid(&builder), 3);
    builder_release(&builder);
}

/* A chunk larger than the header's HEADER_MAX_CHUNK_SIZE, and an aggregate
 * chunk of zeros whose stack count would size 1.4 GB of tables, are refused
 * before anything is allocated for them. */
static void test_decompression_bombs(void)
{
    struct capture_builder builder;
    hostile_chunk_above_maximum(&builder, 1u << 20, 2u << 20);
    CHECK_DAMAGED(builder.file.data, builder.file.size,
                  "chunk of 2097152 bytes decompressed exceeds the capture's maximum of 1048576");
    builder_release(&builder);
    hostile_chunk_above_maximum(&builder, 1u << 20, 1u << 20);
    CHECK_EQ_U64(read_valid(&builder), 1u << 20);
    builder_release(&builder);
    hostile_chunk_above_maximum(&builder, 0, 16);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "maximum chunk size 0 is not in [1, ");
    builder_release(&builder);
    hostile_chunk_above_maximum(&builder, CAPTURE_MAX_CHUNK_SIZE + 1, 16);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "maximum chunk size 67108865 is not in");
    builder_release(&builder);

    hostile_strings_bomb(&builder, 2);
    uint64_t memory_before = tracker_memory_current();
    CHECK_DAMAGED(builder.file.data, builder.file.size,
                  "bytes of tables, too many for a file of");
    CHECK_EQ_U64(tracker_memory_current(), memory_before);
    builder_release(&builder);

    hostile_aggregate_bomb(&builder, 1);
    CHECK_DAMAGED(builder.file.data, builder.file.size,
                  "9586978 aggregate stacks, but only 2 stack ids exist");
    builder_release(&builder);
}

static uint64_t random_state = 88172645463325252ULL;

static uint64_t random_next(void)
{
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return random_state;
}

/* Random damage never crashes the reader nor leaks its memory (ASan checks
 * the reads); it reads fine, stops truncated, or reports an error. */
static void test_random_damage(void)
{
    uint64_t memory_before = tracker_memory_current();
    struct capture_builder builder;
    build_standard(&builder, NULL);
    size_t size = builder.file.size;
    uint8_t *copy = malloc(size);
    for (int round = 0; round < 3000; round++) {
        memcpy(copy, builder.file.data, size);
        int flips = 1 + (int)(random_next() % 3);
        for (int flip = 0; flip < flips; flip++) {
            copy[random_next() % size] ^= (uint8_t)(1u << (random_next() % 8));
        }
        size_t length = round % 2 ? size : (size_t)(random_next() % (size + 1));
        struct capture_error error;
        struct capture_reader *reader = capture_reader_open_memory(copy, length, &error);
        size_t count = 0;
        if (reader) {
            int status = read_all(reader, &count);
            CHECK(status == 0 || (status == -1 && capture_reader_error(reader)->message[0]));
        } else {
            CHECK(error.message[0] != '\0');
        }
        capture_reader_close(reader);
    }
    free(copy);
    builder_release(&builder);
    CHECK_EQ_U64(tracker_memory_current(), memory_before);
}

int main(void)
{
    RUN_TEST(test_bad_magic);
    RUN_TEST(test_newer_version);
    RUN_TEST(test_header_damage);
    RUN_TEST(test_flipped_byte_in_a_chunk);
    RUN_TEST(test_out_of_range_ids);
    RUN_TEST(test_malformed_records);
    RUN_TEST(test_chunk_header_damage);
    RUN_TEST(test_two_zstd_frames);
    RUN_TEST(test_trailer_and_index_damage);
    RUN_TEST(test_footer_damage);
    RUN_TEST(test_allocation_sizes_out_of_range);
    RUN_TEST(test_hostile_shapes);
    RUN_TEST(test_sampling_out_of_range);
    RUN_TEST(test_decompression_bombs);
    RUN_TEST(test_random_damage);
    return test_harness_exit_code();
}
