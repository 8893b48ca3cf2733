/* The capture file's header: the fixed part (magic, version, flags, size of
 * the field block), the checksum, and the TLV fields it carries. */
#include "core/format/capture_file_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/format/crc32.h"
#include "core/base/tracker_memory.h"

static uint64_t *header_varint_field(struct capture_header *header, uint64_t tag)
{
    switch (tag) {
    case HEADER_PID: return &header->pid;
    case HEADER_START_TIME_NS: return &header->start_time_ns;
    case HEADER_FLAGS: return &header->flags;
    case HEADER_MAX_STACK_DEPTH: return &header->max_stack_depth;
    case HEADER_SAMPLE_INTERVAL: return &header->sample_interval;
    case HEADER_RSS_INTERVAL_NS: return &header->rss_interval_ns;
    case HEADER_PAGE_SIZE: return &header->page_size;
    case HEADER_SAMPLE_SEED: return &header->sample_seed;
    case HEADER_MAX_CHUNK_SIZE: return &header->max_chunk_size;
    case HEADER_PARENT_PID: return &header->parent_pid;
    case HEADER_RING_WINDOW_START_NS: return &header->ring_window_start_ns;
    case HEADER_RING_BASE_ALLOCATIONS: return &header->ring_base_allocations;
    case HEADER_RING_DUMP_REASON: return &header->ring_dump_reason;
    case HEADER_RING_DUMP_SIGNAL: return &header->ring_dump_signal;
    case HEADER_RING_EVICTED_EVENTS: return &header->ring_evicted_events;
    case HEADER_RING_DUMP_AT_RSS: return &header->ring_dump_at_rss;
    case HEADER_RING_DUMP_NUMBER: return &header->ring_dump_number;
    default: return NULL;
    }
}

/* Replaces *text with an owned NUL-terminated copy of the field's bytes.
 * Returns 0, or -1 when memory ran out. */
static int header_copy_text(char **text, size_t *text_size, const struct tlv_field *field)
{
    char *copy = tracker_malloc(field->size + 1);
    if (!copy) {
        return -1;
    }
    memcpy(copy, field->value, field->size);
    copy[field->size] = '\0';
    if (*text) {
        tracker_free(*text, *text_size + 1);
    }
    *text = copy;
    *text_size = field->size;
    return 0;
}

/* The sample rate must be one the recorder can write: finite and in
 * [CAPTURE_MIN_SAMPLE_RATE, 1]; a smaller one gives weights 1/p so large
 * that the estimates saturate. Returns 0 or -1 (reason set). */
static int header_check_sample_rate(double rate, char *reason, size_t reason_size)
{
    if (!(rate >= CAPTURE_MIN_SAMPLE_RATE && rate <= 1.0)) {
        snprintf(reason, reason_size, "sample rate %g is not in [%g, 1]", rate,
                 CAPTURE_MIN_SAMPLE_RATE);
        return -1;
    }
    return 0;
}

/* Checks the varint fields whose range is bounded once they are all read
 * (a repeated tag counts by its last value). Returns 0 or -1 (reason set). */
static int header_check_ranges(const struct capture_header *header, char *reason,
                               size_t reason_size)
{
    if (header->sample_interval > CAPTURE_MAX_SAMPLE_INTERVAL) {
        snprintf(reason, reason_size, "sample interval %llu is above the limit of %llu bytes",
                 (unsigned long long)header->sample_interval,
                 (unsigned long long)CAPTURE_MAX_SAMPLE_INTERVAL);
        return -1;
    }
    if (header->max_chunk_size == 0 || header->max_chunk_size > CAPTURE_MAX_CHUNK_SIZE) {
        snprintf(reason, reason_size, "maximum chunk size %llu is not in [1, %u]",
                 (unsigned long long)header->max_chunk_size, CAPTURE_MAX_CHUNK_SIZE);
        return -1;
    }
    return 0;
}

/* Applies one header field; unknown tags are skipped. Returns 0 or -1. */
static int header_apply_field(struct capture_reader *reader, const struct tlv_field *field,
                              char *reason, size_t reason_size)
{
    struct capture_header *header = &reader->header;
    uint64_t *number = header_varint_field(header, field->tag);
    if (number) {
        return tlv_varint(field, number, reason, reason_size);
    }
    if (field->tag == HEADER_SAMPLE_RATE) {
        if (tlv_double(field, &header->sample_rate, reason, reason_size) < 0) {
            return -1;
        }
        return header_check_sample_rate(header->sample_rate, reason, reason_size);
    }
    int copied = 0;
    if (field->tag == HEADER_PYTHON_VERSION) {
        copied = header_copy_text(&reader->python_version, &header->python_version_size, field);
    } else if (field->tag == HEADER_COMMAND) {
        copied = header_copy_text(&reader->command, &header->command_size, field);
    }
    return copied < 0 ? reader_out_of_memory(reader) : 0;
}

/* Parses the header's TLV block. Returns 0, or -1 with the reader failed. */
static int header_parse_fields(struct capture_reader *reader, const uint8_t *block, size_t size)
{
    const uint8_t *cursor = block;
    const uint8_t *end = block + size;
    char reason[REASON_SIZE];
    struct tlv_field field;
    int status;
    while ((status = tlv_next(&cursor, end, &field, reason, sizeof reason)) == 1) {
        if (header_apply_field(reader, &field, reason, sizeof reason) < 0) {
            break;
        }
    }
    if (status == 0 && header_check_ranges(&reader->header, reason, sizeof reason) < 0) {
        status = -1;
    }
    if (status != 0) {
        return reader_fail(reader, 0, "file header: %s", reason);
    }
    reader->header.python_version = reader->python_version ? reader->python_version : "";
    reader->header.command = reader->command ? reader->command : "";
    return 0;
}

/* Checks the magic and the fixed fields of the file header; stores the
 * version and the TLV block size. Returns 0, or -1 with the reader failed. */
static int header_check_fixed(struct capture_reader *reader, uint32_t *block_size)
{
    uint64_t size = reader->file_size;
    size_t fixed_size = size < CAPTURE_FILE_HEADER_FIXED_SIZE ? (size_t)size
                                                              : CAPTURE_FILE_HEADER_FIXED_SIZE;
    const uint8_t *view = reader_view(reader, 0, fixed_size);
    if (!view) {
        return -1;
    }
    if (size < CAPTURE_MAGIC_SIZE || memcmp(view, CAPTURE_MAGIC, CAPTURE_MAGIC_SIZE) != 0) {
        return reader_fail(reader, 0, size < CAPTURE_MAGIC_SIZE
                                          ? "not a memlyze capture (the file is too short)"
                                          : "not a memlyze capture (bad magic at offset 0)");
    }
    if (size < CAPTURE_FILE_HEADER_FIXED_SIZE) {
        return reader_fail(reader, 0, "file header: truncated (the file has %llu bytes)",
                           (unsigned long long)size);
    }
    uint16_t version = read_u16(view + 4);
    uint16_t flags = read_u16(view + 6);
    *block_size = read_u32(view + 8);
    if (version > CAPTURE_FORMAT_VERSION) {
        return reader_fail(reader, 0,
                           "capture format version %u is newer than this memlyze supports (%d)",
                           version, CAPTURE_FORMAT_VERSION);
    }
    if (version == 0) {
        return reader_fail(reader, 0, "file header: format version 0 is not valid");
    }
    if (flags != 0) {
        return reader_fail(reader, 0, "file header: unknown flags 0x%04x at offset 6", flags);
    }
    reader->header.format_version = version;
    reader->recent_capacity = version < CAPTURE_THREAD_STATES_FORMAT_VERSION
                                  ? SHARED_STATE_RECENT_ALLOCATIONS
                                  : RECENT_ALLOCATIONS;
    return 0;
}

/* Checks and parses the file header. Returns 0, or -1 with the reader failed. */
int file_reader_read_header(struct capture_reader *reader)
{
    uint32_t block_size = 0;
    if (header_check_fixed(reader, &block_size) < 0) {
        return -1;
    }
    if (block_size > CAPTURE_MAX_CHUNK_SIZE) {
        return reader_fail(reader, 0, "file header: field block of %u bytes exceeds the limit",
                           block_size);
    }
    uint64_t header_end = CAPTURE_FILE_HEADER_FIXED_SIZE + (uint64_t)block_size + 4;
    if (header_end > reader->file_size) {
        return reader_fail(reader, 0,
                           "file header: truncated (needs %llu bytes, the file has %llu)",
                           (unsigned long long)header_end, (unsigned long long)reader->file_size);
    }
    const uint8_t *view =
        reader_view(reader, CAPTURE_FILE_HEADER_FIXED_SIZE, (size_t)block_size + 4);
    if (!view) {
        return -1;
    }
    if (crc32_compute(view, block_size) != read_u32(view + block_size)) {
        return reader_fail(reader, 0, "file header: checksum mismatch");
    }
    reader->body_start = header_end;
    return header_parse_fields(reader, view, block_size);
}
