/* The capture reader decoding hand-built captures that are whole: every
 * record kind, header and footer fields, the tables, reading through a file
 * descriptor, address references, and the empty capture. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/analysis/capture_analysis.h"
#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "tests/c/capture_builder.h"
#include "tests/c/format/capture_reader_fixture.h"
#include "tests/c/test_harness.h"
#include "core/base/tracker_memory.h"

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
    CHECK_EQ_U64(header->format_version, CAPTURE_FORMAT_VERSION);
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

/* The progress display's figures: the bytes consumed grow chunk by chunk,
 * from the first chunk's offset to the footer's, out of the file's size. */
static void test_bytes_read_follow_the_chunks(void)
{
    struct capture_builder builder;
    uint64_t offsets[3];
    build_standard(&builder, offsets);
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    CHECK(reader != NULL);
    if (reader) {
        CHECK_EQ_U64(capture_reader_file_size(reader), builder.file.size);
        CHECK_EQ_U64(capture_reader_bytes_read(reader), offsets[0]);
        struct capture_record record;
        CHECK(capture_reader_next(reader, &record) == 1);
        CHECK_EQ_U64(capture_reader_bytes_read(reader), offsets[1]);
        size_t count = 0;
        CHECK(read_all(reader, &count) == 0);
        CHECK_EQ_U64(capture_reader_bytes_read(reader), offsets[2]);
    }
    capture_reader_close(reader);
    builder_release(&builder);
}

struct progress_calls {
    uint64_t count;
    uint64_t last_bytes;
    uint64_t file_bytes;
    int decreased;
};

static void note_progress(void *argument, uint64_t bytes_read, uint64_t file_bytes)
{
    struct progress_calls *calls = argument;
    calls->decreased |= bytes_read < calls->last_bytes;
    calls->count++;
    calls->last_bytes = bytes_read;
    calls->file_bytes = file_bytes;
}

/* The analysis pass calls its progress function once per chunk of events,
 * with growing byte figures and the file's size. */
static void test_analysis_reports_progress_per_chunk(void)
{
    struct capture_builder builder;
    uint64_t offsets[3];
    build_standard(&builder, offsets);
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    struct progress_calls calls = {0, 0, 0, 0};
    struct analysis_options options;
    analysis_options_init(&options);
    options.progress = note_progress;
    options.progress_argument = &calls;
    struct capture_analysis *analysis =
        reader ? capture_analysis_run_with(reader, &options, &error) : NULL;
    CHECK(analysis != NULL);
    CHECK_EQ_U64(calls.count, 2);
    CHECK_EQ_U64(calls.last_bytes, offsets[2]);
    CHECK_EQ_U64(calls.file_bytes, builder.file.size);
    CHECK(!calls.decreased);
    capture_analysis_free(analysis);
    capture_reader_close(reader);
    builder_release(&builder);
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
    CHECK_DAMAGED(builder.file.data, builder.file.size, "sample rate 2 is not in [1e-09, 1]");
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

int main(void)
{
    RUN_TEST(test_decodes_a_complete_capture);
    RUN_TEST(test_reads_a_file);
    RUN_TEST(test_bytes_read_follow_the_chunks);
    RUN_TEST(test_analysis_reports_progress_per_chunk);
    RUN_TEST(test_header_fields);
    RUN_TEST(test_address_references);
    RUN_TEST(test_switch_to_undeclared_thread);
    RUN_TEST(test_empty_capture);
    return test_harness_exit_code();
}
