/* Hostile captures: see hostile_captures.h. */
#include "tests/c/hostile_captures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/varint.h"
#include "core/format/capture_format.h"

static void must(int result)
{
    if (result < 0) {
        fprintf(stderr, "hostile_captures: out of memory\n");
        abort();
    }
}

/* The default header's fields (builder_default_header) and then extra. */
static void header_with(struct capture_builder *builder, const struct byte_buffer *extra)
{
    struct byte_buffer fields = {0};
    must(byte_buffer_append_tlv_varint(&fields, HEADER_PID, 4242));
    must(byte_buffer_append_tlv_bytes(&fields, HEADER_PYTHON_VERSION, "3.11.7", 6));
    must(byte_buffer_append_tlv_bytes(&fields, HEADER_COMMAND, "python app.py", 13));
    must(byte_buffer_append_tlv_varint(&fields, HEADER_MAX_STACK_DEPTH, 128));
    must(byte_buffer_append(&fields, extra->data, extra->size));
    builder_header(builder, CAPTURE_FORMAT_VERSION, &fields);
    byte_buffer_release(&fields);
}

/* One string, frame and stack, so that allocations have stack 1. */
static void define_stack(struct capture_builder *builder)
{
    builder_string(builder, "f");
    builder_frame(builder, 1, 1, 1, 0);
    builder_stack(builder, 0, 1);
}

static void close_with_one_allocation(struct capture_builder *builder)
{
    define_stack(builder);
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x1000, 4096, 1);
    builder_time(builder, 10);
    builder_flush_chunk(builder);
    builder_finish(builder, 10, 4096);
}

void hostile_large_allocations(struct capture_builder *builder, uint64_t size)
{
    builder_init(builder);
    builder_default_header(builder, 0);
    define_stack(builder);
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x1000, size, 1);
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x2000, size, 1);
    builder_time(builder, 10);
    builder_flush_chunk(builder);
    builder_finish(builder, 10, 4096);
}

void hostile_sample_rate(struct capture_builder *builder, double rate)
{
    struct byte_buffer extra = {0};
    must(byte_buffer_append_tlv_double(&extra, HEADER_SAMPLE_RATE, rate));
    builder_init(builder);
    header_with(builder, &extra);
    byte_buffer_release(&extra);
    close_with_one_allocation(builder);
}

void hostile_sample_interval(struct capture_builder *builder, uint64_t interval)
{
    struct byte_buffer extra = {0};
    must(byte_buffer_append_tlv_varint(&extra, HEADER_SAMPLE_INTERVAL, interval));
    builder_init(builder);
    header_with(builder, &extra);
    byte_buffer_release(&extra);
    close_with_one_allocation(builder);
}

void hostile_sampling_record(struct capture_builder *builder, uint64_t mode, uint64_t mean)
{
    builder_init(builder);
    builder_default_header(builder, 0);
    uint8_t record[1 + 2 * VARINT_MAX_SIZE] = {OP_SAMPLING};
    size_t size = 1;
    size += varint_encode(mode, record + size);
    size += varint_encode(mean, record + size);
    builder_raw(builder, record, size);
    close_with_one_allocation(builder);
}

void hostile_aggregate_bomb(struct capture_builder *builder, int chunks)
{
    /* Nine zero figures, the stack count (a 4-byte varint), then exactly
     * that many stacks of seven zero varints: nothing left over. */
    const size_t before_stacks = 9 + 4;
    uint64_t stack_count = (CAPTURE_MAX_CHUNK_SIZE - before_stacks) / 7;
    size_t size = before_stacks + 7 * stack_count;
    uint8_t *payload = calloc(size, 1);
    if (!payload) {
        must(-1);
    }
    varint_encode(stack_count, payload + 9);
    builder_init(builder);
    builder_default_header(builder, HEADER_FLAG_AGGREGATE);
    define_stack(builder);
    builder_time(builder, 10);
    builder_flush_chunk(builder);
    for (int chunk = 0; chunk < chunks; chunk++) {
        builder_chunk(builder, CHUNK_KIND_AGGREGATE, payload, size);
    }
    free(payload);
    builder_finish(builder, 10, 4096);
}

void hostile_chunk_above_maximum(struct capture_builder *builder, uint64_t maximum,
                                 uint32_t size)
{
    struct byte_buffer extra = {0};
    must(byte_buffer_append_tlv_varint(&extra, HEADER_MAX_CHUNK_SIZE, maximum));
    builder_init(builder);
    header_with(builder, &extra);
    byte_buffer_release(&extra);
    uint8_t *snapshots = malloc(size);
    if (!snapshots) {
        must(-1);
    }
    memset(snapshots, OP_SNAPSHOT, size);
    builder_raw(builder, snapshots, size);
    free(snapshots);
    builder_flush_chunk(builder);
    builder_finish(builder, 10, 4096);
}

void hostile_strings_bomb(struct capture_builder *builder, int chunks)
{
    size_t size = CAPTURE_MAX_CHUNK_SIZE - 1; /* whole records of 3 bytes */
    uint8_t *strings = malloc(size);
    if (!strings) {
        must(-1);
    }
    memset(strings, OP_STRING, size);
    builder_init(builder);
    builder_default_header(builder, 0);
    for (int chunk = 0; chunk < chunks; chunk++) {
        builder_raw(builder, strings, size);
        builder_flush_chunk(builder);
    }
    free(strings);
    builder_finish(builder, 10, 4096);
}

void hostile_overflowing_sum(struct capture_builder *builder, uint32_t count)
{
    builder_init(builder);
    builder_default_header(builder, 0);
    define_stack(builder);
    for (uint32_t index = 0; index < count; index++) {
        /* Apart by the size: every block is live at once, none overlaps. */
        builder_alloc(builder, ALLOCATOR_MMAP, (uint64_t)(index + 1) * CAPTURE_MAX_ALLOCATION_SIZE,
                      CAPTURE_MAX_ALLOCATION_SIZE, 1);
    }
    builder_time(builder, 10);
    builder_flush_chunk(builder);
    builder_finish(builder, 10, 4096);
}

void hostile_huge_counts(struct capture_builder *builder)
{
    builder_init(builder);
    builder_default_header(builder, 0);
    define_stack(builder);
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x1000, 4096, 1);
    builder_time(builder, UINT64_MAX / 2);
    builder_flush_chunk(builder);
    struct byte_buffer fields = {0};
    must(byte_buffer_append_tlv_varint(&fields, FOOTER_END_TIME_NS, UINT64_MAX));
    must(byte_buffer_append_tlv_varint(&fields, FOOTER_ALLOCATION_COUNT, UINT64_MAX));
    must(byte_buffer_append_tlv_varint(&fields, FOOTER_ALLOCATED_BYTES, UINT64_MAX));
    must(byte_buffer_append_tlv_varint(&fields, FOOTER_FREE_COUNT, UINT64_MAX));
    must(byte_buffer_append_tlv_varint(&fields, FOOTER_TRACKER_MEMORY_PEAK, UINT64_MAX));
    must(byte_buffer_append_tlv_varint(&fields, FOOTER_THREAD_COUNT, UINT64_MAX));
    builder_finish_with_fields(builder, &fields);
    byte_buffer_release(&fields);
}

void hostile_deep_stack(struct capture_builder *builder, uint32_t depth)
{
    builder_init(builder);
    builder_default_header(builder, 0);
    builder_string(builder, "f");
    builder_frame(builder, 1, 1, 1, 0);
    for (uint32_t level = 0; level < depth; level++) {
        builder_stack(builder, level, 1); /* stack level + 1 below stack level */
    }
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x1000, 4096, depth);
    builder_time(builder, 10);
    builder_flush_chunk(builder);
    builder_finish(builder, 10, 4096);
}

void hostile_cyclic_stacks(struct capture_builder *builder)
{
    builder_init(builder);
    builder_default_header(builder, 0);
    builder_string(builder, "f");
    builder_frame(builder, 1, 1, 1, 0);
    builder_stack(builder, 2, 1); /* stack 1 below stack 2, */
    builder_stack(builder, 1, 1); /* and stack 2 below stack 1 */
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x1000, 4096, 2);
    builder_time(builder, 10);
    builder_flush_chunk(builder);
    builder_finish(builder, 10, 4096);
}
