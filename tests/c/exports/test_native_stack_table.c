/* The native_stacks table and the native rows of frames
 * (core/exports/native_stack_table.c) on a hand-made --native capture whose
 * native frames are functions of this program, mapped at its load bias so
 * that they resolve to known names, plus one address in no mapping; and a
 * capture without native stacks, whose native_stacks table is empty. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/byte_buffer.h"
#include "core/exports/capture_tables.h"
#include "core/format/capture_format.h"
#include "tests/c/capture_builder.h"
#include "tests/c/test_harness.h"

#define UNMAPPED_IP 0x10

enum { STACK_ID, PARENT_ID, FRAME_ID, IP };
enum { FRAME, FUNCTION, FILE_NAME, LINE, MODULE, KIND };

__attribute__((noinline)) int table_leaf_function(int value)
{
    return value * 5 + 2;
}

__attribute__((noinline)) int table_caller_function(int value)
{
    return table_leaf_function(value) * 7;
}

static char self_path[4096];

static uint64_t inside(int (*function)(int))
{
    return (uint64_t)(uintptr_t)function + 4;
}

/* This program mapped at its load bias, without a build-id (string 1). */
static void add_self_mapping(struct capture_builder *builder)
{
    builder_self_mapping(builder, (const void *)table_leaf_function, self_path, sizeof self_path);
}

/* One Python frame (frame 1, stack 1); native stacks 1 = [caller],
 * 2 = [caller, leaf], 3 = [caller, unmapped], 4 = [caller, unmapped, leaf]
 * (innermost last), 4 at the same address as 2. */
static const uint64_t native_stacks[4][2] = {{0, 0}, {1, 0}, {1, UNMAPPED_IP}, {3, 0}};

static void build_capture(struct capture_builder *builder, int native)
{
    builder_init(builder);
    builder_default_header(builder, native ? HEADER_FLAG_NATIVE : 0);
    if (native) {
        add_self_mapping(builder); /* string 1 */
    }
    builder_string(builder, "hold");
    builder_string(builder, "app.py");
    builder_frame(builder, native ? 2 : 1, native ? 3 : 2, 10, 0);
    builder_stack(builder, 0, 1);
    for (size_t index = 0; native && index < 4; index++) {
        uint64_t stack[2] = {native_stacks[index][0], native_stacks[index][1]};
        if (!stack[1]) {
            stack[1] = index == 0 ? inside(table_caller_function) : inside(table_leaf_function);
        }
        builder_record(builder, OP_NATIVE_STACK, stack, 2);
    }
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x1000, 64, 1);
    builder_flush_chunk(builder);
    builder_finish(builder, 300, 0);
}

/* Reads a whole stream of at most one batch into *batch; its row count. */
static int64_t read_one_batch(struct capture_tables *tables, enum capture_table_kind kind,
                              struct ArrowArray *batch)
{
    struct capture_error error;
    struct ArrowArrayStream stream;
    memset(batch, 0, sizeof *batch);
    CHECK(capture_tables_stream(tables, kind, &stream, &error) == 0);
    CHECK(stream.get_next(&stream, batch) == 0);
    if (batch->release) {
        struct ArrowArray end;
        CHECK(stream.get_next(&stream, &end) == 0 && end.release == NULL);
    }
    stream.release(&stream);
    return batch->release ? batch->length : 0;
}

static uint32_t value32(const struct ArrowArray *batch, int column, int64_t row)
{
    return ((const uint32_t *)batch->children[column]->buffers[1])[row];
}

static uint64_t value64(const struct ArrowArray *batch, int column, int64_t row)
{
    return ((const uint64_t *)batch->children[column]->buffers[1])[row];
}

/* Whether the text of (column, row) is expected. */
static int text_is(const struct ArrowArray *batch, int column, int64_t row, const char *expected)
{
    const int32_t *offsets = batch->children[column]->buffers[1];
    const char *bytes = batch->children[column]->buffers[2];
    size_t size = (size_t)(offsets[row + 1] - offsets[row]);
    return size == strlen(expected) && memcmp(bytes + offsets[row], expected, size) == 0;
}

static void test_native_stacks_and_native_frames(void)
{
    struct capture_builder builder;
    build_capture(&builder, 1);
    struct capture_error error;
    struct capture_tables *tables =
        capture_tables_open_memory(builder.file.data, builder.file.size, &error);
    CHECK(tables != NULL);
    struct ArrowArray stacks, frames;
    /* Without DWARF each address is one frame: one row per native stack. */
    CHECK_EQ_U64(read_one_batch(tables, CAPTURE_TABLE_NATIVE_STACKS, &stacks), 4);
    CHECK_EQ_U64(read_one_batch(tables, CAPTURE_TABLE_FRAMES, &frames), 4);
    if (stacks.release && frames.release && stacks.length == 4 && frames.length == 4) {
        /* Frame 1 is the Python frame; the native frames follow in the order
         * first met: caller 2, leaf 3, the unmapped address 4. */
        const uint32_t parents[] = {0, 1, 1, 3};
        const uint32_t frame_ids[] = {2, 3, 4, 3};
        for (int64_t row = 0; row < 4; row++) {
            CHECK_EQ_U64(value32(&stacks, STACK_ID, row), (uint64_t)row + 1);
            CHECK_EQ_U64(value32(&stacks, PARENT_ID, row), parents[row]);
            CHECK_EQ_U64(value32(&stacks, FRAME_ID, row), frame_ids[row]);
        }
        CHECK_EQ_U64(value64(&stacks, IP, 2), UNMAPPED_IP);
        CHECK_EQ_U64(value64(&stacks, IP, 3), inside(table_leaf_function));

        CHECK(text_is(&frames, FUNCTION, 0, "hold") && text_is(&frames, KIND, 0, "python"));
        CHECK(text_is(&frames, MODULE, 0, ""));
        CHECK(text_is(&frames, FUNCTION, 1, "table_caller_function"));
        CHECK(text_is(&frames, FUNCTION, 2, "table_leaf_function"));
        CHECK(text_is(&frames, MODULE, 2, self_path) && text_is(&frames, KIND, 2, "native"));
        /* The name the reports print for an address in no object. */
        CHECK(text_is(&frames, FUNCTION, 3, "<unresolved 0x10 (not in a recorded object)>"));
        CHECK(text_is(&frames, MODULE, 3, "") && text_is(&frames, KIND, 3, "native"));
        for (int64_t row = 0; row < 4; row++) {
            CHECK_EQ_U64(value32(&frames, FRAME, row), (uint64_t)row + 1);
        }
    }
    if (stacks.release) {
        stacks.release(&stacks);
    }
    if (frames.release) {
        frames.release(&frames);
    }
    capture_tables_release(tables);
    builder_release(&builder);
}

static void test_capture_without_native_stacks(void)
{
    struct capture_builder builder;
    build_capture(&builder, 0);
    struct capture_error error;
    struct capture_tables *tables =
        capture_tables_open_memory(builder.file.data, builder.file.size, &error);
    CHECK(tables != NULL);
    struct ArrowArray stacks, frames;
    CHECK_EQ_U64(read_one_batch(tables, CAPTURE_TABLE_NATIVE_STACKS, &stacks), 0);
    CHECK_EQ_U64(read_one_batch(tables, CAPTURE_TABLE_FRAMES, &frames), 1);
    if (frames.release && frames.length == 1) {
        CHECK(text_is(&frames, FUNCTION, 0, "hold") && text_is(&frames, FILE_NAME, 0, "app.py"));
        CHECK(text_is(&frames, MODULE, 0, "") && text_is(&frames, KIND, 0, "python"));
        frames.release(&frames);
    }
    capture_tables_release(tables);
    builder_release(&builder);
}

int main(void)
{
    RUN_TEST(test_native_stacks_and_native_frames);
    RUN_TEST(test_capture_without_native_stacks);
    return test_harness_exit_code();
}
