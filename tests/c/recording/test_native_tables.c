/* Native stacks for --native: the recorder's native tables and their
 * records, the reader's decoding of them, symbolisation (including a
 * build-id that no longer matches), and the (stack, thread) pair set. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "core/base/byte_buffer.h"
#include "core/analysis/capture_analysis.h"
#include "tests/c/capture_builder.h"
#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "core/recording/intern_table.h"
#include "core/recording/native_intern.h"
#include "core/analysis/native_symbols.h"
#include "tests/c/test_harness.h"

static void test_native_stacks_are_interned_once(void)
{
    CHECK(native_tables_reset() == 0);
    CHECK_EQ_U64(intern_native_stack(0, 0x1000), 1);
    CHECK_EQ_U64(intern_native_stack(1, 0x2000), 2);
    CHECK_EQ_U64(intern_native_stack(0, 0x1000), 1);
    CHECK_EQ_U64(intern_native_stack(2, 0x1000), 3);
    CHECK_EQ_U64(native_stack_count(), 3);
    struct native_mapping mapping = {.start = 0x1000, .end = 0x3000, .path_sid = 1};
    CHECK(native_mapping_add(&mapping) == 1);
    CHECK(native_mapping_add(&mapping) == 0);
    native_tables_release();
}

/* A capture with two native stacks, one mapping and an OP_ALLOC_NATIVE. */
static void build_native_capture(struct capture_builder *builder, uint8_t native_stack_id)
{
    CHECK(native_tables_reset() == 0);
    intern_native_stack(0, 0x401000);
    intern_native_stack(1, 0x402000);
    struct native_mapping mapping = {.start = 0x400000, .end = 0x500000, .load_bias = 0x400000,
                                     .path_sid = 1, .build_id_size = 3,
                                     .build_id = {0xab, 0xcd, 0xef}};
    native_mapping_add(&mapping);
    struct byte_buffer encoded = {0};
    struct native_cursor cursor = {0, 0};
    CHECK(native_tables_encode_new(&encoded, &cursor, 0) == 0);
    CHECK_EQ_U64(cursor.stacks_written, 2);
    CHECK_EQ_U64(cursor.mappings_written, 0); /* its path string is not written yet */
    CHECK(native_tables_encode_new(&encoded, &cursor, 1) == 0);
    CHECK_EQ_U64(cursor.mappings_written, 1);
    native_tables_release();

    builder_init(builder);
    builder_default_header(builder, HEADER_FLAG_NATIVE);
    builder_string(builder, "/lib/libexample.so");
    builder_raw(builder, encoded.data, encoded.size);
    byte_buffer_release(&encoded);
    /* OP_ALLOC_NATIVE + malloc, address 0x40 (zigzag 0x80), size 16, stack 0. */
    const uint8_t allocation[] = {OP_ALLOC_NATIVE + ALLOCATOR_MALLOC, 0x80, 0x01, 16, 0,
                                  native_stack_id};
    builder_raw(builder, allocation, sizeof allocation);
    builder_flush_chunk(builder);
    builder_finish(builder, 100, 0);
}

static void test_reader_decodes_native_records(void)
{
    struct capture_builder builder;
    build_native_capture(&builder, 2);
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    CHECK(reader != NULL);
    struct capture_record record;
    CHECK(capture_reader_next(reader, &record) == 1);
    CHECK_EQ_U64(record.kind, CAPTURE_RECORD_ALLOCATION);
    CHECK_EQ_U64(record.allocator, ALLOCATOR_MALLOC);
    CHECK_EQ_U64(record.address, 0x40);
    CHECK_EQ_U64(record.size, 16);
    CHECK_EQ_U64(record.native_stack_id, 2);
    CHECK(capture_reader_next(reader, &record) == 0);
    CHECK_EQ_U64(capture_reader_native_stack_count(reader), 2);
    const struct capture_native_stack *stack = capture_reader_native_stack(reader, 2);
    CHECK(stack && stack->parent_native_stack_id == 1 && stack->ip == 0x402000);
    CHECK(capture_reader_native_stack(reader, 3) == NULL);
    CHECK_EQ_U64(capture_reader_mapping_count(reader), 1);
    const struct capture_mapping *mapping = capture_reader_mapping(reader, 0);
    CHECK(mapping && mapping->start == 0x400000 && mapping->end == 0x500000);
    CHECK(mapping && mapping->build_id_size == 3 && mapping->build_id[2] == 0xef);
    capture_reader_close(reader);
    builder_release(&builder);
}

static void test_reader_refuses_an_undefined_native_stack(void)
{
    struct capture_builder builder;
    build_native_capture(&builder, 5);
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    struct capture_record record;
    CHECK(reader && capture_reader_next(reader, &record) == -1);
    CHECK(reader && strstr(capture_reader_error(reader)->message,
                           "native stack id 5 is not defined (2 are)") != NULL);
    capture_reader_close(reader);
    builder_release(&builder);
}

__attribute__((noinline)) int symbolizer_target(int value)
{
    return value * 3 + 1;
}

/* A capture mapping this test program at its load bias, with build_id,
 * under the path object_path (NULL: the program's own path). */
static void build_mapping_capture(struct capture_builder *builder, const char *object_path,
                                  const uint8_t *build_id, size_t build_id_size)
{
    Dl_info info;
    CHECK(dladdr((void *)symbolizer_target, &info) != 0);
    char path[4096];
    if (object_path) {
        snprintf(path, sizeof path, "%s", object_path);
    } else {
        ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
        CHECK(length > 0);
        path[length > 0 ? length : 0] = '\0';
    }
    builder_init(builder);
    builder_default_header(builder, HEADER_FLAG_NATIVE);
    builder_string(builder, path);
    struct byte_buffer record = {0};
    uint64_t base = (uint64_t)(uintptr_t)info.dli_fbase;
    byte_buffer_append_byte(&record, OP_MAPPING);
    byte_buffer_append_varint(&record, base);
    byte_buffer_append_varint(&record, base + (64u << 20));
    byte_buffer_append_varint(&record, base);
    byte_buffer_append_varint(&record, 1);
    byte_buffer_append_varint(&record, build_id_size);
    byte_buffer_append(&record, build_id, build_id_size);
    builder_raw(builder, record.data, record.size);
    byte_buffer_release(&record);
    builder_flush_chunk(builder);
    builder_finish(builder, 100, 0);
}

static void build_self_capture(struct capture_builder *builder, const uint8_t *build_id,
                               size_t build_id_size)
{
    build_mapping_capture(builder, NULL, build_id, build_id_size);
}

static void test_symbolizer_names_functions_and_refuses_other_builds(void)
{
    const uint8_t wrong_build_id[] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int wrong = 0; wrong < 2; wrong++) {
        struct capture_builder builder;
        build_self_capture(&builder, wrong_build_id, wrong ? sizeof wrong_build_id : 0);
        struct capture_error error;
        struct capture_reader *reader =
            capture_reader_open_memory(builder.file.data, builder.file.size, &error);
        struct capture_record record;
        CHECK(reader && capture_reader_next(reader, &record) == 0);
        struct native_symbolizer *symbolizer = native_symbolizer_open(reader);
        CHECK(symbolizer != NULL);
        struct native_symbol_frame frames[8];
        uint64_t ip = (uint64_t)(uintptr_t)symbolizer_target + 4;
        size_t count = native_symbolizer_resolve(symbolizer, ip, 1, frames, 8);
        CHECK(count >= 1);
        const struct native_symbol_frame *frame = &frames[count - 1];
        if (wrong) {
            CHECK(frame->function == NULL && frame->status == NATIVE_SYMBOL_BUILD_ID_MISMATCH);
        } else {
            CHECK(frame->function && strcmp(frame->function, "symbolizer_target") == 0);
            CHECK(frame->file[0] == '\0' || strstr(frame->file, "test_native_tables.c") != NULL);
        }
        count = native_symbolizer_resolve(symbolizer, 0x10, 1, frames, 8);
        CHECK(count == 1 && frames[0].status == NATIVE_SYMBOL_NO_MAPPING);
        native_symbolizer_close(symbolizer);
        capture_reader_close(reader);
        builder_release(&builder);
    }
}

/* Resolves symbolizer_target in a capture that maps it from object_path,
 * which is no regular file: the frame must come back unresolved, naming
 * the object, without blocking (a FIFO's open would wait for a writer). */
static void check_unreadable_object(const char *object_path)
{
    struct capture_builder builder;
    build_mapping_capture(&builder, object_path, NULL, 0);
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    struct capture_record record;
    CHECK(reader && capture_reader_next(reader, &record) == 0);
    struct native_symbolizer *symbolizer = reader ? native_symbolizer_open(reader) : NULL;
    CHECK(symbolizer != NULL);
    if (symbolizer) {
        struct native_symbol_frame frames[8];
        uint64_t ip = (uint64_t)(uintptr_t)symbolizer_target + 4;
        size_t count = native_symbolizer_resolve(symbolizer, ip, 1, frames, 8);
        CHECK(count == 1 && frames[0].function == NULL);
        CHECK(frames[0].status == NATIVE_SYMBOL_FILE_UNREADABLE);
        CHECK(strcmp(frames[0].object, object_path) == 0);
        native_symbolizer_close(symbolizer);
    }
    capture_reader_close(reader);
    builder_release(&builder);
}

static void test_symbolizer_opens_only_regular_files(void)
{
    char directory[] = "/tmp/memlyze-native-tables-XXXXXX";
    CHECK(mkdtemp(directory) != NULL);
    char fifo[sizeof directory + 16];
    snprintf(fifo, sizeof fifo, "%s/fifo", directory);
    CHECK(mkfifo(fifo, 0600) == 0);
    check_unreadable_object(fifo);
    check_unreadable_object(directory);
    check_unreadable_object("/dev/zero");
    check_unreadable_object("/nonexistent/memlyze/library.so");
    unlink(fifo);
    rmdir(directory);
}

/* The location of stack 1 (f at line 7) from an analysis of builder's file. */
static const struct analysis_location *location_at_line_seven(struct capture_analysis *analysis)
{
    const struct analysis_location *top[4];
    long count = capture_analysis_top_locations(analysis, ANALYSIS_BY_TOTAL, 4, top);
    for (long index = 0; index < count; index++) {
        if (!top[index]->no_python_frame && top[index]->line == 7) {
            return top[index];
        }
    }
    return NULL;
}

static void test_locations_list_threads_and_their_largest_native_stack(void)
{
    struct capture_builder builder;
    builder_init(&builder);
    builder_default_header(&builder, HEADER_FLAG_NATIVE);
    builder_string(&builder, "f");
    builder_string(&builder, "app.py");
    builder_frame(&builder, 1, 2, 7, 1);
    builder_stack(&builder, 0, 1);
    const uint8_t native_stacks[] = {OP_NATIVE_STACK, 0, 0x10, OP_NATIVE_STACK, 0, 0x20};
    builder_raw(&builder, native_stacks, sizeof native_stacks);
    builder_switch_thread(&builder, 1);
    /* OP_ALLOC_NATIVE + malloc: address delta, size, stack 1, native stack. */
    const uint8_t small[] = {OP_ALLOC_NATIVE, 0x02, 10, 1, 1};
    const uint8_t large[] = {OP_ALLOC_NATIVE, 0x02, 90, 1, 2};
    builder_raw(&builder, small, sizeof small);
    builder_switch_thread(&builder, 2);
    builder_raw(&builder, large, sizeof large);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x9000, 5, 0);
    builder_flush_chunk(&builder);
    builder_finish(&builder, 100, 0);
    struct capture_error error;
    struct capture_reader *reader =
        capture_reader_open_memory(builder.file.data, builder.file.size, &error);
    struct capture_analysis *analysis = reader ? capture_analysis_run(reader, &error) : NULL;
    CHECK(analysis != NULL);
    const struct analysis_location *location = analysis ? location_at_line_seven(analysis) : NULL;
    CHECK(location != NULL);
    if (location) {
        CHECK_EQ_U64(location->thread_count, 2);
        CHECK(location->thread_ids[0] + location->thread_ids[1] == 3 && !location->more_threads);
        CHECK_EQ_U64(location->native_stack_id, 2);
        CHECK_EQ_U64(location->native_python_stack_id, 1);
        CHECK_EQ_U64(location->native_largest_size, 90);
    }
    capture_analysis_free(analysis);
    capture_reader_close(reader);
    builder_release(&builder);
}

int main(void)
{
    RUN_TEST(test_native_stacks_are_interned_once);
    RUN_TEST(test_reader_decodes_native_records);
    RUN_TEST(test_reader_refuses_an_undefined_native_stack);
    RUN_TEST(test_symbolizer_names_functions_and_refuses_other_builds);
    RUN_TEST(test_symbolizer_opens_only_regular_files);
    RUN_TEST(test_locations_list_threads_and_their_largest_native_stack);
    return test_harness_exit_code();
}
