/* The capture reader on unclosed files (no trailer, as when the writer was
 * stopped): the records of every complete chunk come out, then a clean stop
 * marked truncated, while damage before the end is still an error. */
#include <stdio.h>
#include <string.h>

#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "tests/c/capture_builder.h"
#include "tests/c/format/capture_reader_fixture.h"
#include "tests/c/test_harness.h"

static void test_truncated_file(void)
{
    struct capture_builder builder;
    uint64_t offsets[3];
    build_standard(&builder, offsets);
    uint64_t header_end = offsets[0];
    /* Every cut: events of the complete chunks come out, then a clean stop. */
    for (uint64_t size = header_end; size < builder.file.size; size++) {
        size_t expected = size < offsets[1] ? 0 : 3;
        if (size >= offsets[2]) {
            expected = 9;
        }
        size_t count = read_truncated(builder.file.data, size);
        if (count != expected) {
            fprintf(stderr, "cut at %llu: %zu events, expected %zu\n",
                    (unsigned long long)size, count, expected);
            CHECK(!"events of a truncated file");
            break;
        }
    }
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, offsets[1] + 5, &error);
    size_t count = 0;
    CHECK(reader && read_all(reader, &count) == 0);
    char expected[128];
    snprintf(expected, sizeof expected, "read 1 complete chunks, stopped at offset %llu",
             (unsigned long long)offsets[1]);
    CHECK(reader && strstr(capture_reader_truncation_note(reader), expected));
    CHECK(!capture_reader_footer(reader)->present);
    capture_reader_close(reader);
    /* Cut right after the footer: it is read, the file is still truncated. */
    reader = capture_reader_open_memory(builder.file.data, builder.file.size - 3, &error);
    CHECK(reader && read_all(reader, &count) == 0);
    CHECK(reader && capture_reader_footer(reader)->present);
    CHECK(reader && strstr(capture_reader_truncation_note(reader), "the trailer was not"));
    capture_reader_close(reader);
    builder_release(&builder);
}

static void test_damaged_last_chunk_of_unclosed_file(void)
{
    struct capture_builder builder;
    uint64_t offsets[3];
    build_standard(&builder, offsets);
    /* Without footer and trailer, a damaged last chunk ends the read... */
    builder.file.data[offsets[1] + CAPTURE_CHUNK_HEADER_SIZE + 2] ^= 0x10;
    CHECK_EQ_U64(read_truncated(builder.file.data, offsets[2]), 3);
    /* ...but a damaged chunk followed by more is an error. */
    builder.file.data[offsets[1] + CAPTURE_CHUNK_HEADER_SIZE + 2] ^= 0x10;
    builder.file.data[offsets[0] + CAPTURE_CHUNK_HEADER_SIZE + 2] ^= 0x10;
    char expected[64];
    snprintf(expected, sizeof expected, "chunk at offset %llu: checksum mismatch",
             (unsigned long long)offsets[0]);
    CHECK_DAMAGED(builder.file.data, offsets[2], expected);
    builder_release(&builder);
}

static void test_damaged_footer_of_unclosed_file(void)
{
    struct capture_builder builder;
    build_prefix(&builder);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x10, 8, 1);
    builder_flush_chunk(&builder);
    uint64_t footer = builder_chunk(&builder, CHUNK_KIND_FOOTER, "\x01\x05", 2);
    /* At the end of the file: where the writer stopped. */
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    size_t count = 0;
    CHECK(reader && read_all(reader, &count) == 0 && count == 1);
    CHECK(reader && !capture_reader_footer(reader)->present);
    char expected[96];
    snprintf(expected, sizeof expected, "stopped at offset %llu: field 1 of 5 bytes",
             (unsigned long long)footer);
    CHECK(reader && strstr(capture_reader_truncation_note(reader), expected));
    capture_reader_close(reader);
    /* Followed by more: damage in the middle. */
    builder_flush_chunk(&builder);
    snprintf(expected, sizeof expected, "footer chunk at offset %llu: field 1 of 5 bytes",
             (unsigned long long)footer);
    CHECK_DAMAGED(builder.file.data, builder.file.size, expected);
    builder_release(&builder);
}

/* Without a footer the tracker's memory is unknown, not 0; a footer that
 * holds it (also one written without the trailer) makes it known. */
static void test_tracker_memory_is_unknown_without_footer(void)
{
    struct capture_builder builder;
    uint64_t offsets[3];
    build_standard(&builder, offsets);
    const uint64_t sizes[] = {offsets[2], builder.file.size - CAPTURE_TRAILER_SIZE,
                              builder.file.size};
    const int known[] = {0, 1, 1};
    for (size_t index = 0; index < 3; index++) {
        struct capture_error error;
        struct capture_reader *reader =
            capture_reader_open_memory(builder.file.data, sizes[index], &error);
        size_t count = 0;
        CHECK(reader && read_all(reader, &count) == 0);
        const struct capture_footer *footer = capture_reader_footer(reader);
        CHECK_EQ_U64(footer->has_tracker_memory_peak, known[index]);
        CHECK_EQ_U64(footer->tracker_memory_peak, known[index] ? 4096 : 0);
        capture_reader_close(reader);
    }
    builder_release(&builder);
}

int main(void)
{
    RUN_TEST(test_truncated_file);
    RUN_TEST(test_damaged_last_chunk_of_unclosed_file);
    RUN_TEST(test_damaged_footer_of_unclosed_file);
    RUN_TEST(test_tracker_memory_is_unknown_without_footer);
    return test_harness_exit_code();
}
