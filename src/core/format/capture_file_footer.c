/* The end of the capture file: the trailer pointing at the footer chunk, and
 * the footer's fields, among them the chunk index the chunks are checked
 * against while they are read (capture_file_reader.c). */
#include "core/format/capture_file_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/base/byte_buffer.h"
#include "core/base/varint.h"

static uint64_t *footer_varint_field(struct capture_footer *footer, uint64_t tag)
{
    switch (tag) {
    case FOOTER_END_TIME_NS: return &footer->end_time_ns;
    case FOOTER_EVENT_COUNT: return &footer->event_count;
    case FOOTER_ALLOCATION_COUNT: return &footer->allocation_count;
    case FOOTER_ALLOCATED_BYTES: return &footer->allocated_bytes;
    case FOOTER_FREE_COUNT: return &footer->free_count;
    case FOOTER_TRACKER_MEMORY_PEAK: return &footer->tracker_memory_peak;
    case FOOTER_THREAD_COUNT: return &footer->thread_count;
    case FOOTER_DROPPED_EVENTS: return &footer->dropped_events;
    default: return NULL;
    }
}

/*
 * Decodes FOOTER_CHUNK_OFFSETS (a count, then deltas from the previous
 * offset, the first from 0) into reader->chunk_index, checking that the
 * offsets rise strictly and lie between the header and footer_offset.
 * Returns 0, or -1 with a reason (or the reader failed: out of memory).
 */
static int footer_parse_chunk_index(struct capture_reader *reader, const struct tlv_field *field,
                                    uint64_t footer_offset, char *reason, size_t reason_size)
{
    const uint8_t *cursor = field->value;
    const uint8_t *end = field->value + field->size;
    uint64_t count;
    if (varint_decode(&cursor, end, &count) < 0 || count > (uint64_t)(end - cursor)) {
        snprintf(reason, reason_size, "the chunk index has a bad count");
        return -1;
    }
    byte_buffer_clear(&reader->chunk_index);
    if (byte_buffer_reserve(&reader->chunk_index, (size_t)count * sizeof(uint64_t)) < 0) {
        return reader_out_of_memory(reader);
    }
    uint64_t offset = 0;
    for (uint64_t position = 0; position < count; position++) {
        uint64_t delta;
        if (varint_decode(&cursor, end, &delta) < 0) {
            snprintf(reason, reason_size, "chunk index entry %llu: %s",
                     (unsigned long long)position, reader_varint_problem(cursor, end));
            return -1;
        }
        if ((position > 0 && delta == 0) || delta >= footer_offset - offset ||
            offset + delta < reader->body_start) {
            snprintf(reason, reason_size, "chunk index entry %llu is out of order or range",
                     (unsigned long long)position);
            return -1;
        }
        offset += delta;
        byte_buffer_append(&reader->chunk_index, &offset, sizeof offset);
    }
    if (cursor != end) {
        snprintf(reason, reason_size, "the chunk index has %zu bytes too many",
                 (size_t)(end - cursor));
        return -1;
    }
    reader->footer.chunk_count = count;
    reader->has_chunk_index = 1;
    return 0;
}

/* The largest value a footer field can take in a real capture: a hostile
 * footer is refused rather than shown (a run of centuries, exbibytes of
 * tracker memory). Times up to 2^60 ns (36 years); counts and the tracker's
 * memory up to 2^48, as the reader bounds an allocation; bytes up to 2^62, as
 * it bounds a sum of allocations. */
static uint64_t footer_field_limit(uint64_t tag)
{
    switch (tag) {
    case FOOTER_END_TIME_NS: return (uint64_t)1 << 60;
    case FOOTER_ALLOCATED_BYTES: return (uint64_t)1 << 62;
    case FOOTER_THREAD_COUNT: return (uint64_t)1 << 32;
    default: return (uint64_t)1 << 48;
    }
}

int footer_parse(struct capture_reader *reader, uint64_t footer_offset, char *reason,
                 size_t reason_size)
{
    const uint8_t *cursor = reader->payload.data;
    const uint8_t *end = cursor + reader->payload.size;
    struct tlv_field field;
    int status;
    while ((status = tlv_next(&cursor, end, &field, reason, reason_size)) == 1) {
        uint64_t *number = footer_varint_field(&reader->footer, field.tag);
        if (number && tlv_varint(&field, number, reason, reason_size) < 0) {
            return -1;
        }
        if (number && *number > footer_field_limit(field.tag)) {
            snprintf(reason, reason_size, "footer field %llu is out of range (%llu)",
                     (unsigned long long)field.tag, (unsigned long long)*number);
            return -1;
        }
        if (field.tag == FOOTER_END_TIME_NS) {
            reader->footer.has_end_time = 1;
        }
        if (field.tag == FOOTER_TRACKER_MEMORY_PEAK) {
            reader->footer.has_tracker_memory_peak = 1;
        }
        if (field.tag == FOOTER_CHUNK_OFFSETS &&
            footer_parse_chunk_index(reader, &field, footer_offset, reason, reason_size) < 0) {
            return -1;
        }
    }
    if (status < 0) {
        return -1;
    }
    reader->footer.present = 1;
    return 0;
}

/*
 * Looks for the trailer; when present, checks that it points at a footer
 * chunk ending right before it, and parses that footer. Without a trailer
 * the file is marked truncated. Returns 0, or -1 with the reader failed.
 */
int file_reader_read_trailer(struct capture_reader *reader)
{
    uint64_t size = reader->file_size;
    reader->body_end = size;
    if (size < reader->body_start + CAPTURE_CHUNK_HEADER_SIZE + CAPTURE_TRAILER_SIZE) {
        reader->truncated = 1;
        return 0;
    }
    uint64_t trailer_offset = size - CAPTURE_TRAILER_SIZE;
    const uint8_t *view = reader_view(reader, trailer_offset, CAPTURE_TRAILER_SIZE);
    if (!view) {
        return -1;
    }
    if (memcmp(view + 8, CAPTURE_TRAILER_MAGIC, CAPTURE_TRAILER_MAGIC_SIZE) != 0) {
        reader->truncated = 1;
        return 0;
    }
    uint64_t footer_offset = read_u64(view);
    if (footer_offset < reader->body_start || footer_offset >= trailer_offset) {
        return reader_fail(reader, 0, "trailer at offset %llu: footer offset %llu is out of range",
                           (unsigned long long)trailer_offset, (unsigned long long)footer_offset);
    }
    struct chunk_info chunk;
    char reason[REASON_SIZE];
    enum chunk_status status = chunk_load(reader, footer_offset, trailer_offset, &chunk, reason,
                                          sizeof reason);
    if (status == CHUNK_FAILED) {
        return -1;
    }
    if (status == CHUNK_OK && chunk.kind != CHUNK_KIND_FOOTER) {
        snprintf(reason, sizeof reason, "the trailer points at a chunk of kind %u, not a footer",
                 chunk.kind);
    } else if (status == CHUNK_OK && chunk.end != trailer_offset) {
        snprintf(reason, sizeof reason, "the footer ends at %llu, the trailer starts at %llu",
                 (unsigned long long)chunk.end, (unsigned long long)trailer_offset);
    } else if (status == CHUNK_OK &&
               footer_parse(reader, footer_offset, reason, sizeof reason) == 0) {
        reader->has_trailer = 1;
        reader->body_end = footer_offset;
        return 0;
    }
    return reader_fail(reader, 0, "footer chunk at offset %llu: %s",
                       (unsigned long long)footer_offset, reason);
}
