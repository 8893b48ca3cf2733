/* The capture reader: decoding of hand-built captures, and every kind of
 * damage giving a one-line error (or, at the end of an unclosed file, a
 * clean stop marked truncated). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/c/capture_builder.h"
#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "core/format/crc32.h"
#include "tests/c/test_harness.h"
#include "core/base/tracker_memory.h"

/* Builds a capture of two events chunks; offsets of the chunks and footer
 * go to offsets[0..2] when offsets is not NULL. */
static void build_standard(struct capture_builder *builder, uint64_t *offsets)
{
    builder_init(builder);
    builder_default_header(builder, HEADER_FLAG_TRACK_GC);
    builder_string(builder, "main");          /* 1 */
    builder_string(builder, "app.py");        /* 2 */
    builder_string(builder, "MainThread");    /* 3 */
    builder_frame(builder, 1, 2, 10, 0);      /* frame 1 */
    builder_frame(builder, 1, 2, 20, 0);      /* frame 2 */
    builder_stack(builder, 0, 1);             /* stack 1: main:10 */
    builder_stack(builder, 1, 2);             /* stack 2: main:20 called from main:10 */
    builder_thread(builder, 1, 777, 3);
    builder_switch_thread(builder, 1);
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x1000, 100, 1);
    builder_alloc(builder, ALLOCATOR_CALLOC, 0x800, 50, 2);
    builder_time(builder, 5000);
    uint64_t first = builder_flush_chunk(builder);
    builder_switch_thread(builder, 1);
    builder_free(builder, 0x1000);
    builder_munmap(builder, 0x7f0000000000ULL, 4096);
    builder_pymalloc_free(builder, 0x10);
    builder_rss(builder, 1 << 20, 3, 1);
    builder_gc(builder, 2, 40, 1, 999);
    builder_snapshot(builder);
    uint64_t second = builder_flush_chunk(builder);
    uint64_t footer = builder_finish(builder, 9000, 4096);
    if (offsets) {
        offsets[0] = first;
        offsets[1] = second;
        offsets[2] = footer;
    }
}

/* Reads every record; returns the final status of capture_reader_next and
 * the number of events in *count. */
static int read_all(struct capture_reader *reader, size_t *count)
{
    struct capture_record record;
    int status;
    *count = 0;
    while ((status = capture_reader_next(reader, &record)) == 1) {
        (*count)++;
    }
    return status;
}

/* Checks that opening or reading data fails with a message containing
 * expected. */
static void check_damaged(const void *data, size_t size, const char *expected, int line)
{
    struct capture_error error;
    memset(&error, 0, sizeof error);
    struct capture_reader *reader = capture_reader_open_memory(data, size, &error);
    const char *message = error.message;
    if (reader) {
        size_t count = 0;
        int status = read_all(reader, &count);
        CHECK(status == -1);
        message = capture_reader_error(reader)->message;
        CHECK_EQ_U64(capture_reader_error(reader)->os_errno, 0);
    } else {
        CHECK_EQ_U64(error.os_errno, 0);
    }
    if (!strstr(message, expected)) {
        fprintf(stderr, "line %d: error \"%s\" does not contain \"%s\"\n", line, message,
                expected);
        CHECK(!"error message");
    }
    capture_reader_close(reader);
}
#define CHECK_DAMAGED(data, size, expected) check_damaged(data, size, expected, __LINE__)

static void check_text(const char *actual, const char *expected)
{
    if (!actual || strcmp(actual, expected) != 0) {
        fprintf(stderr, "text \"%s\" is not \"%s\"\n", actual ? actual : "(null)", expected);
        CHECK(!"text");
    }
}

static void check_header_fields(struct capture_reader *reader)
{
    const struct capture_header *header = capture_reader_header(reader);
    CHECK_EQ_U64(header->format_version, 1);
    CHECK_EQ_U64(header->pid, 4242);
    check_text(header->python_version, "3.11.7");
    check_text(header->command, "python app.py");
    CHECK_EQ_U64(header->start_time_ns, 1000);
    CHECK_EQ_U64(header->flags, HEADER_FLAG_TRACK_GC);
    CHECK_EQ_U64(header->max_stack_depth, 128);
    CHECK(header->sample_rate == 1.0);
    CHECK_EQ_U64(header->sample_interval, 0);
    const struct capture_footer *footer = capture_reader_footer(reader);
    CHECK(footer->present && footer->has_end_time);
    CHECK_EQ_U64(footer->end_time_ns, 9000);
    CHECK_EQ_U64(footer->tracker_memory_peak, 4096);
    CHECK_EQ_U64(footer->chunk_count, 2);
}

static void check_first_chunk_records(struct capture_reader *reader)
{
    struct capture_record record;
    CHECK(capture_reader_next(reader, &record) == 1);
    CHECK(record.kind == CAPTURE_RECORD_ALLOCATION);
    CHECK_EQ_U64(record.thread_id, 1);
    CHECK_EQ_U64(record.address, 0x1000);
    CHECK_EQ_U64(record.size, 100);
    CHECK_EQ_U64(record.allocator, ALLOCATOR_MALLOC);
    CHECK_EQ_U64(record.stack_id, 1);
    CHECK(capture_reader_next(reader, &record) == 1);
    CHECK_EQ_U64(record.address, 0x800); /* a negative delta */
    CHECK_EQ_U64(record.allocator, ALLOCATOR_CALLOC);
    CHECK_EQ_U64(record.stack_id, 2);
    CHECK(capture_reader_next(reader, &record) == 1);
    CHECK(record.kind == CAPTURE_RECORD_TIME);
    CHECK_EQ_U64(record.time_ns, 5000);
}

static void check_second_chunk_records(struct capture_reader *reader)
{
    struct capture_record record;
    CHECK(capture_reader_next(reader, &record) == 1);
    CHECK(record.kind == CAPTURE_RECORD_FREE);
    CHECK_EQ_U64(record.address, 0x1000); /* the delta restarted at 0 */
    CHECK(capture_reader_next(reader, &record) == 1);
    CHECK(record.kind == CAPTURE_RECORD_MUNMAP);
    CHECK_EQ_U64(record.address, 0x7f0000000000ULL);
    CHECK_EQ_U64(record.size, 4096);
    CHECK(capture_reader_next(reader, &record) == 1);
    CHECK(record.kind == CAPTURE_RECORD_PYMALLOC_FREE);
    CHECK_EQ_U64(record.address, 0x10);
    CHECK(capture_reader_next(reader, &record) == 1);
    CHECK(record.kind == CAPTURE_RECORD_RSS);
    CHECK_EQ_U64(record.rss_bytes, 1 << 20);
    CHECK_EQ_U64(record.minor_faults, 3);
    CHECK_EQ_U64(record.major_faults, 1);
    CHECK(capture_reader_next(reader, &record) == 1);
    CHECK(record.kind == CAPTURE_RECORD_GC);
    CHECK_EQ_U64(record.gc_generation, 2);
    CHECK_EQ_U64(record.gc_collected, 40);
    CHECK_EQ_U64(record.gc_uncollectable, 1);
    CHECK_EQ_U64(record.gc_duration_ns, 999);
    CHECK(capture_reader_next(reader, &record) == 1);
    CHECK(record.kind == CAPTURE_RECORD_SNAPSHOT);
    CHECK(capture_reader_next(reader, &record) == 0);
    CHECK(capture_reader_next(reader, &record) == 0);
}

static void check_tables(struct capture_reader *reader)
{
    CHECK_EQ_U64(capture_reader_string_count(reader), 3);
    size_t size = 99;
    check_text(capture_reader_string(reader, 0, &size), "");
    CHECK_EQ_U64(size, 0);
    check_text(capture_reader_string(reader, 2, &size), "app.py");
    CHECK_EQ_U64(size, 6);
    CHECK(capture_reader_string(reader, 4, NULL) == NULL);
    CHECK_EQ_U64(capture_reader_frame_count(reader), 2);
    CHECK(capture_reader_frame(reader, 0) == NULL);
    CHECK_EQ_U64(capture_reader_frame(reader, 2)->line, 20);
    CHECK(capture_reader_frame(reader, 3) == NULL);
    CHECK_EQ_U64(capture_reader_stack_count(reader), 2);
    CHECK_EQ_U64(capture_reader_stack(reader, 2)->parent_stack_id, 1);
    CHECK_EQ_U64(capture_reader_stack(reader, 2)->frame_id, 2);
    CHECK(capture_reader_stack(reader, 0) == NULL);
    CHECK_EQ_U64(capture_reader_thread_count(reader), 1);
    const struct capture_thread *thread = capture_reader_thread(reader, 0);
    CHECK_EQ_U64(thread->thread_id, 1);
    CHECK_EQ_U64(thread->native_tid, 777);
    CHECK_EQ_U64(thread->name_sid, 3);
    CHECK(capture_reader_thread(reader, 1) == NULL);
}

static void test_decodes_a_complete_capture(void)
{
    uint64_t memory_before = tracker_memory_current();
    struct capture_builder builder;
    build_standard(&builder, NULL);
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    CHECK(reader != NULL);
    if (reader) {
        check_header_fields(reader);
        CHECK(!capture_reader_truncated(reader));
        check_first_chunk_records(reader);
        check_second_chunk_records(reader);
        check_tables(reader);
        CHECK(capture_reader_truncation_note(reader) == NULL);
        CHECK_EQ_U64(capture_reader_chunks_read(reader), 2);
    }
    capture_reader_close(reader);
    builder_release(&builder);
    CHECK_EQ_U64(tracker_memory_current(), memory_before);
}

static void test_reads_a_file(void)
{
    struct capture_builder builder;
    uint64_t offsets[3];
    build_standard(&builder, offsets);
    char path[] = "/tmp/memlyze-test-reader-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, builder.file.data, builder.file.size) == (ssize_t)builder.file.size);
    close(fd);
    struct capture_error error;
    struct capture_reader *reader = capture_reader_open(path, &error);
    CHECK(reader != NULL);
    if (reader) {
        check_header_fields(reader);
        check_first_chunk_records(reader);
        check_second_chunk_records(reader);
    }
    capture_reader_close(reader);
    /* Cut inside the second chunk: read through pread up to the first one. */
    CHECK(truncate(path, (off_t)offsets[1] + 20) == 0);
    reader = capture_reader_open(path, &error);
    size_t count = 0;
    CHECK(reader && capture_reader_truncated(reader) && read_all(reader, &count) == 0);
    CHECK_EQ_U64(count, 3);
    capture_reader_close(reader);
    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    CHECK(capture_reader_open(path, &error) == NULL);
    CHECK(strstr(error.message, "not a memlyze capture (the file is too short)") != NULL);
    CHECK_EQ_U64(error.os_errno, 0);
    unlink(path);
    CHECK(capture_reader_open(path, &error) == NULL);
    CHECK_EQ_U64(error.os_errno, ENOENT);
    CHECK(strstr(error.message, path) != NULL);
    CHECK(capture_reader_open("/tmp", &error) == NULL);
    CHECK_EQ_U64(error.os_errno, EISDIR);
    builder_release(&builder);
}

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
                  "capture format version 7 is newer than this memlyze supports (1)");
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

/* Builds a one-chunk capture whose header has the given fields. */
static void build_with_header_fields(struct capture_builder *builder,
                                     const struct byte_buffer *fields)
{
    builder_init(builder);
    builder_header(builder, 1, fields);
    builder_time(builder, 1);
    builder_flush_chunk(builder);
    builder_finish(builder, 1, 0);
}

static void test_header_fields(void)
{
    struct byte_buffer fields = {0};
    byte_buffer_append_tlv_bytes(&fields, 99, "future", 6); /* unknown: skipped */
    byte_buffer_append_tlv_double(&fields, HEADER_SAMPLE_RATE, 0.25);
    byte_buffer_append_tlv_varint(&fields, HEADER_SAMPLE_INTERVAL, 524288);
    byte_buffer_append_tlv_varint(&fields, HEADER_PID, 1);
    byte_buffer_append_tlv_varint(&fields, HEADER_PID, 2); /* the last one wins */
    struct capture_builder builder;
    build_with_header_fields(&builder, &fields);
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    CHECK(reader != NULL);
    if (reader) {
        const struct capture_header *header = capture_reader_header(reader);
        CHECK(header->sample_rate == 0.25);
        CHECK_EQ_U64(header->sample_interval, 524288);
        CHECK_EQ_U64(header->pid, 2);
        check_text(header->command, "");
    }
    capture_reader_close(reader);
    builder_release(&builder);

    byte_buffer_clear(&fields);
    byte_buffer_append_tlv_bytes(&fields, HEADER_SAMPLE_RATE, "abc", 3);
    build_with_header_fields(&builder, &fields);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "file header: field 7 holds 3 bytes");
    builder_release(&builder);

    byte_buffer_clear(&fields);
    byte_buffer_append_tlv_double(&fields, HEADER_SAMPLE_RATE, 2.0);
    build_with_header_fields(&builder, &fields);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "sample rate 2 is not in (0, 1]");
    builder_release(&builder);

    byte_buffer_clear(&fields);
    byte_buffer_append_tlv_bytes(&fields, HEADER_PID, "\x80\x80", 2);
    build_with_header_fields(&builder, &fields);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "field 1 is not one varint");
    builder_release(&builder);

    byte_buffer_clear(&fields);
    byte_buffer_append_varint(&fields, HEADER_COMMAND);
    byte_buffer_append_varint(&fields, 50);
    byte_buffer_append(&fields, "short", 5);
    build_with_header_fields(&builder, &fields);
    CHECK_DAMAGED(builder.file.data, builder.file.size, "runs past the end of the block");
    builder_release(&builder);
    byte_buffer_release(&fields);
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

/* Opens the first size bytes of data, which must read as truncated; returns
 * the number of events read. */
static size_t read_truncated(const uint8_t *data, size_t size)
{
    struct capture_error error;
    struct capture_reader *reader = capture_reader_open_memory(data, size, &error);
    CHECK(reader != NULL);
    if (!reader) {
        fprintf(stderr, "size %zu: %s\n", size, error.message);
        return 0;
    }
    CHECK(capture_reader_truncated(reader));
    size_t count = 0;
    CHECK(read_all(reader, &count) == 0);
    const char *note = capture_reader_truncation_note(reader);
    CHECK(note && strstr(note, "not closed"));
    capture_reader_close(reader);
    return count;
}

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

/* Builds a closed capture whose only chunk holds the records the caller
 * appended to builder after build_prefix(). */
static void build_prefix(struct capture_builder *builder)
{
    builder_init(builder);
    builder_default_header(builder, 0);
    builder_string(builder, "f");
    builder_frame(builder, 1, 1, 1, 0);
    builder_stack(builder, 0, 1);
}

static void close_and_check(struct capture_builder *builder, const char *expected, int line)
{
    builder_flush_chunk(builder);
    builder_finish(builder, 10, 0);
    check_damaged(builder->file.data, builder->file.size, expected, line);
    builder_release(builder);
}
#define CLOSE_AND_CHECK(builder, expected) close_and_check(builder, expected, __LINE__)

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
    CLOSE_AND_CHECK(&builder, "parent stack id 2 is not defined");
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

/* OP_FREE_RECENT and OP_ALLOC_REUSED refer to addresses seen earlier in
 * the chunk (address_history.h); they decode to those addresses, and a
 * reference past what the chunk holds is damage. */
static void test_address_references(void)
{
    struct capture_builder builder;
    build_prefix(&builder);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x1000, 64, 1);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x2000, 32, 1);
    const uint8_t references[] = {
        OP_FREE_RECENT, 2,                     /* frees 0x1000 (two allocations back) */
        OP_ALLOC_REUSED + ALLOCATOR_CALLOC, 0, 16, 1, /* at 0x1000 again */
        OP_FREE_PYMALLOC_RECENT, 1,            /* the calloc block, one back */
    };
    builder_raw(&builder, references, sizeof references);
    builder_flush_chunk(&builder);
    builder_finish(&builder, 10, 0);
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    CHECK(reader != NULL);
    struct capture_record records[5];
    size_t count = 0;
    while (reader && count < 5 && capture_reader_next(reader, &records[count]) == 1) {
        count++;
    }
    CHECK_EQ_U64(count, 5);
    CHECK(records[2].kind == CAPTURE_RECORD_FREE && records[2].address == 0x1000);
    CHECK(records[3].kind == CAPTURE_RECORD_ALLOCATION && records[3].address == 0x1000 &&
          records[3].allocator == ALLOCATOR_CALLOC && records[3].size == 16);
    CHECK(records[4].kind == CAPTURE_RECORD_PYMALLOC_FREE && records[4].address == 0x1000);
    capture_reader_close(reader);
    builder_release(&builder);

    const uint8_t too_far[] = {OP_FREE_RECENT, 2};
    build_prefix(&builder);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x1000, 64, 1);
    builder_raw(&builder, too_far, sizeof too_far);
    CLOSE_AND_CHECK(&builder, "free of the allocation 2 back is not in this chunk");
    const uint8_t zero_back[] = {OP_FREE_RECENT, 0};
    build_prefix(&builder);
    builder_raw(&builder, zero_back, sizeof zero_back);
    CLOSE_AND_CHECK(&builder, "free of the allocation 0 back is not in this chunk");
    const uint8_t no_free_yet[] = {OP_ALLOC_REUSED + ALLOCATOR_MALLOC, 0, 8, 1};
    build_prefix(&builder);
    builder_raw(&builder, no_free_yet, sizeof no_free_yet);
    CLOSE_AND_CHECK(&builder, "reused address 0 frees back is not in this chunk");
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

static void test_switch_to_undeclared_thread(void)
{
    struct capture_builder builder;
    build_prefix(&builder);
    builder_switch_thread(&builder, 5);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x10, 8, 1);
    builder_string(&builder, "worker");
    builder_thread(&builder, 5, 1234, 2);
    builder_flush_chunk(&builder);
    builder_finish(&builder, 10, 0);
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    struct capture_record record;
    CHECK(reader && capture_reader_next(reader, &record) == 1);
    CHECK_EQ_U64(record.thread_id, 5);
    CHECK(capture_reader_next(reader, &record) == 0);
    CHECK_EQ_U64(capture_reader_thread_count(reader), 1);
    CHECK_EQ_U64(capture_reader_thread(reader, 0)->native_tid, 1234);
    CHECK_EQ_U64(capture_reader_thread(reader, 0)->name_sid, 2);
    capture_reader_close(reader);
    builder_release(&builder);
}

static void test_empty_capture(void)
{
    struct capture_builder builder;
    builder_init(&builder);
    builder_default_header(&builder, 0);
    builder_finish(&builder, 0, 0);
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    size_t count = 0;
    CHECK(reader && read_all(reader, &count) == 0 && count == 0);
    CHECK(reader && !capture_reader_truncated(reader));
    capture_reader_close(reader);
    /* Only a header: unclosed, nothing to read. */
    CHECK_EQ_U64(read_truncated(builder.file.data, builder.file.size - CAPTURE_TRAILER_SIZE - 5),
                 0);
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
    RUN_TEST(test_decodes_a_complete_capture);
    RUN_TEST(test_reads_a_file);
    RUN_TEST(test_bad_magic);
    RUN_TEST(test_newer_version);
    RUN_TEST(test_header_damage);
    RUN_TEST(test_header_fields);
    RUN_TEST(test_flipped_byte_in_a_chunk);
    RUN_TEST(test_truncated_file);
    RUN_TEST(test_damaged_last_chunk_of_unclosed_file);
    RUN_TEST(test_out_of_range_ids);
    RUN_TEST(test_malformed_records);
    RUN_TEST(test_address_references);
    RUN_TEST(test_chunk_header_damage);
    RUN_TEST(test_two_zstd_frames);
    RUN_TEST(test_trailer_and_index_damage);
    RUN_TEST(test_footer_damage);
    RUN_TEST(test_damaged_footer_of_unclosed_file);
    RUN_TEST(test_switch_to_undeclared_thread);
    RUN_TEST(test_empty_capture);
    RUN_TEST(test_random_damage);
    return test_harness_exit_code();
}
