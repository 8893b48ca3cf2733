#include "core/recording/aggregate_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/format/capture_format.h"
#include "core/format/capture_writer.h"
#include "core/recording/intern_table.h"
#include "core/recording/live_table.h"
#include "core/base/temporary_file.h"
#include "core/base/tracker_memory.h"

static int encode_stack(struct byte_buffer *out, const struct live_table_stack *stack)
{
    int failed = byte_buffer_append_varint(out, stack->stack_id) ||
                 byte_buffer_append_varint(out, stack->live_bytes) ||
                 byte_buffer_append_varint(out, stack->live_count) ||
                 byte_buffer_append_varint(out, stack->peak_bytes) ||
                 byte_buffer_append_varint(out, stack->peak_count) ||
                 byte_buffer_append_varint(out, stack->total_bytes) ||
                 byte_buffer_append_varint(out, stack->total_count);
    return failed ? -1 : 0;
}

/* Appends value as 8 little-endian bytes (IEEE 754). */
static int append_double(struct byte_buffer *out, double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    uint8_t encoded[8];
    for (int index = 0; index < 8; index++) {
        encoded[index] = (uint8_t)(bits >> (8 * index));
    }
    return byte_buffer_append(out, encoded, sizeof encoded);
}

/* Appends bytes, count, bytes_variance, observed_bytes as doubles. */
static int append_weighted(struct byte_buffer *out, const struct weighted_amount *amount)
{
    int failed = append_double(out, amount->bytes) || append_double(out, amount->count) ||
                 append_double(out, amount->bytes_variance) ||
                 append_double(out, amount->observed_bytes);
    return failed ? -1 : 0;
}

/* Appends the estimates section of a sampled recording (capture_format.h). */
static int encode_estimates(struct byte_buffer *out, const struct live_table_totals *totals,
                            const struct live_table_stack *stacks, size_t count)
{
    int failed = byte_buffer_append_varint(out, AGGREGATE_SECTION_ESTIMATES) ||
                 append_weighted(out, &totals->weighted_allocated) ||
                 append_weighted(out, &totals->weighted_peak) ||
                 append_weighted(out, &totals->weighted_heap);
    for (size_t index = 0; !failed && index < count; index++) {
        failed = append_weighted(out, &stacks[index].weighted_live) ||
                 append_weighted(out, &stacks[index].weighted_peak) ||
                 append_weighted(out, &stacks[index].weighted_total);
    }
    return failed ? -1 : 0;
}

int aggregate_payload_encode(struct byte_buffer *out, uint64_t time_ns, uint64_t peak_time_ns)
{
    struct live_table_totals totals;
    struct live_table_stack *stacks = NULL;
    size_t count = 0;
    if (live_table_copy_stacks(&stacks, &count) < 0) {
        return -1;
    }
    live_table_get_totals(&totals);
    int failed = byte_buffer_append_varint(out, time_ns) ||
                 byte_buffer_append_varint(out, totals.current_bytes) ||
                 byte_buffer_append_varint(out, totals.current_count) ||
                 byte_buffer_append_varint(out, totals.peak_bytes) ||
                 byte_buffer_append_varint(out, totals.peak_count) ||
                 byte_buffer_append_varint(out, peak_time_ns) ||
                 byte_buffer_append_varint(out, totals.allocation_count) ||
                 byte_buffer_append_varint(out, totals.allocated_bytes) ||
                 byte_buffer_append_varint(out, totals.free_count) ||
                 byte_buffer_append_varint(out, count);
    for (size_t index = 0; !failed && index < count; index++) {
        failed = encode_stack(out, &stacks[index]) < 0;
    }
    if (!failed && totals.sampled) {
        failed = encode_estimates(out, &totals, stacks, count) < 0;
    }
    live_table_free_stacks(stacks, count);
    return failed ? -1 : 0;
}

static int encode_footer(struct byte_buffer *out, const struct aggregate_snapshot_context *context)
{
    struct live_table_totals totals;
    live_table_get_totals(&totals);
    int failed =
        byte_buffer_append_tlv_varint(out, FOOTER_END_TIME_NS, context->time_ns) ||
        byte_buffer_append_tlv_varint(out, FOOTER_ALLOCATION_COUNT, totals.allocation_count) ||
        byte_buffer_append_tlv_varint(out, FOOTER_ALLOCATED_BYTES, totals.allocated_bytes) ||
        byte_buffer_append_tlv_varint(out, FOOTER_FREE_COUNT, totals.free_count) ||
        byte_buffer_append_tlv_varint(out, FOOTER_TRACKER_MEMORY_PEAK,
                                      context->tracker_memory_peak) ||
        byte_buffer_append_tlv_varint(out, FOOTER_THREAD_COUNT, context->thread_count);
    return failed ? -1 : 0;
}

/* Writes the definitions chunk and the aggregate chunk. Returns 0, or -1
 * with errno set. */
static int write_snapshot_chunks(struct capture_writer *writer,
                                 const struct aggregate_snapshot_context *context)
{
    struct byte_buffer payload = {0};
    struct intern_cursor cursor = {0};
    int failed = intern_tables_encode_new(&payload, &cursor) < 0 ||
                 byte_buffer_append_byte(&payload, OP_TIME) < 0 ||
                 byte_buffer_append_varint(&payload, context->time_ns) < 0 ||
                 capture_writer_write_chunk(writer, CHUNK_KIND_EVENTS, payload.data,
                                            payload.size) < 0;
    byte_buffer_clear(&payload);
    failed = failed ||
             aggregate_payload_encode(&payload, context->time_ns, context->peak_time_ns) < 0 ||
             capture_writer_write_chunk(writer, CHUNK_KIND_AGGREGATE, payload.data,
                                        payload.size) < 0;
    byte_buffer_release(&payload);
    if (failed) {
        errno = writer->error_number ? writer->error_number : ENOMEM;
        return -1;
    }
    return 0;
}

/* Ends the file: with the footer and trailer only for the final snapshot,
 * so that a snapshot left by a process that never stopped reads as
 * truncated. Closes the writer in every case. Returns 0, or -1 with errno. */
static int close_snapshot(struct capture_writer *writer,
                          const struct aggregate_snapshot_context *context)
{
    if (!context->final) {
        if (capture_writer_close_unfinished(writer) < 0) {
            errno = writer->error_number ? writer->error_number : EIO;
            return -1;
        }
        return 0;
    }
    struct byte_buffer footer = {0};
    if (encode_footer(&footer, context) < 0) {
        byte_buffer_release(&footer);
        capture_writer_abandon(writer);
        errno = ENOMEM;
        return -1;
    }
    int result = capture_writer_finish(writer, &footer);
    byte_buffer_release(&footer);
    if (result < 0) {
        errno = writer->error_number ? writer->error_number : EIO;
    }
    return result;
}

/* Writes the whole snapshot into an open writer and closes it. */
static int write_snapshot_body(struct capture_writer *writer,
                               const struct aggregate_snapshot_context *context)
{
    if (write_snapshot_chunks(writer, context) < 0) {
        int saved = errno;
        capture_writer_abandon(writer);
        errno = saved;
        return -1;
    }
    return close_snapshot(writer, context);
}

int aggregate_writer_write(const struct aggregate_snapshot_context *context)
{
    char temporary[PATH_MAX];
    int descriptor = temporary_file_create(context->path, temporary, sizeof temporary);
    if (descriptor < 0) {
        return -1;
    }
    struct capture_writer writer;
    if (capture_writer_begin(&writer, descriptor, context->header_payload) < 0) {
        int saved = writer.error_number;
        unlink(temporary);
        errno = saved;
        return -1;
    }
    if (write_snapshot_body(&writer, context) < 0 || rename(temporary, context->path) < 0) {
        int saved = errno;
        unlink(temporary);
        errno = saved;
        return -1;
    }
    return 0;
}

int aggregate_writer_create(const struct aggregate_snapshot_context *context, int overwrite,
                            char *error, size_t error_size)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? 0 : O_EXCL);
    int descriptor = open(context->path, flags, 0644);
    if (descriptor < 0) {
        int saved = errno;
        snprintf(error, error_size, "cannot create capture file %s: %s", context->path,
                 strerror(saved));
        errno = saved;
        return -1;
    }
    close(descriptor);
    if (aggregate_writer_write(context) < 0) {
        int saved = errno;
        snprintf(error, error_size, "cannot write capture file %s: %s", context->path,
                 strerror(saved));
        unlink(context->path);
        errno = saved;
        return -1;
    }
    return 0;
}
