/* The capture reader tests' fixture: see capture_reader_fixture.h. */
#include "tests/c/format/capture_reader_fixture.h"

#include <stdio.h>
#include <string.h>

#include "core/format/capture_format.h"
#include "tests/c/test_harness.h"

void build_standard(struct capture_builder *builder, uint64_t *offsets)
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

int read_all(struct capture_reader *reader, size_t *count)
{
    struct capture_record record;
    int status;
    *count = 0;
    while ((status = capture_reader_next(reader, &record)) == 1) {
        (*count)++;
    }
    return status;
}

void check_damaged(const void *data, size_t size, const char *expected, int line)
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

size_t read_truncated(const uint8_t *data, size_t size)
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

void build_prefix(struct capture_builder *builder)
{
    builder_init(builder);
    builder_default_header(builder, 0);
    builder_string(builder, "f");
    builder_frame(builder, 1, 1, 1, 0);
    builder_stack(builder, 0, 1);
}

void close_and_check(struct capture_builder *builder, const char *expected, int line)
{
    builder_flush_chunk(builder);
    builder_finish(builder, 10, 0);
    check_damaged(builder->file.data, builder->file.size, expected, line);
    builder_release(builder);
}
