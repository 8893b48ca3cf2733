/* The file level of the capture reader: byte views of the file, TLV blocks,
 * the file header, chunks and their zstd decompression, the footer and
 * trailer, and moving from chunk to chunk. Records inside a chunk are
 * capture_record_decoder.c's. */
#include "core/format/capture_reader_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "core/format/aggregate_chunk.h"
#include "core/base/byte_buffer.h"
#include "core/format/crc32.h"
#include "core/base/tracker_memory.h"
#include "core/format/varint.h"

/* --- little-endian integers ------------------------------------------------ */

static uint16_t read_u16(const uint8_t *bytes)
{
    return (uint16_t)(bytes[0] | bytes[1] << 8);
}

static uint32_t read_u32(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
           (uint32_t)bytes[3] << 24;
}

static uint64_t read_u64(const uint8_t *bytes)
{
    return (uint64_t)read_u32(bytes) | (uint64_t)read_u32(bytes + 4) << 32;
}


/* --- reading bytes of the file --------------------------------------------- */

/*
 * Returns a view of size bytes at offset, which the caller has checked lie
 * inside the file. The view is valid until the next call. NULL (reader
 * failed) when pread fails, memory runs out or the file shrank.
 */
static const uint8_t *reader_view(struct capture_reader *reader, uint64_t offset, size_t size)
{
    if (reader->memory) {
        return reader->memory + offset;
    }
    if (size == 0) {
        return (const uint8_t *)"";
    }
    byte_buffer_clear(&reader->file_bytes);
    if (byte_buffer_reserve(&reader->file_bytes, size) < 0) {
        reader_out_of_memory(reader);
        return NULL;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t got = pread(reader->fd, reader->file_bytes.data + done, size - done,
                            (off_t)(offset + done));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            reader_fail(reader, errno, "cannot read the capture at offset %llu: %s",
                        (unsigned long long)(offset + done), strerror(errno));
            return NULL;
        }
        if (got == 0) {
            reader_fail(reader, EIO, "the capture file shrank while being read (offset %llu)",
                        (unsigned long long)(offset + done));
            return NULL;
        }
        done += (size_t)got;
    }
    return reader->file_bytes.data;
}

/* --- TLV blocks -------------------------------------------------------------- */

struct tlv_field {
    uint64_t tag;
    const uint8_t *value;
    size_t size;
};

/*
 * Reads the next field of a TLV block at [*cursor, end). Returns 1 with
 * *field set and *cursor past it, 0 at the end of the block, -1 when the
 * field is malformed (reason in reason).
 */
static int tlv_next(const uint8_t **cursor, const uint8_t *end, struct tlv_field *field,
                    char *reason, size_t reason_size)
{
    if (*cursor == end) {
        return 0;
    }
    uint64_t size;
    if (varint_decode(cursor, end, &field->tag) < 0 ||
        varint_decode(cursor, end, &size) < 0) {
        snprintf(reason, reason_size, "%s", reader_varint_problem(*cursor, end));
        return -1;
    }
    if (size > (uint64_t)(end - *cursor)) {
        snprintf(reason, reason_size, "field %llu of %llu bytes runs past the end of the block",
                 (unsigned long long)field->tag, (unsigned long long)size);
        return -1;
    }
    field->value = *cursor;
    field->size = (size_t)size;
    *cursor += size;
    return 1;
}

/* Reads a field holding exactly one varint. Returns 0 or -1 (reason set). */
static int tlv_varint(const struct tlv_field *field, uint64_t *value, char *reason,
                      size_t reason_size)
{
    const uint8_t *cursor = field->value;
    const uint8_t *end = field->value + field->size;
    if (varint_decode(&cursor, end, value) < 0 || cursor != end) {
        snprintf(reason, reason_size, "field %llu is not one varint",
                 (unsigned long long)field->tag);
        return -1;
    }
    return 0;
}

/* Reads a field holding one little-endian IEEE 754 double. */
static int tlv_double(const struct tlv_field *field, double *value, char *reason,
                      size_t reason_size)
{
    if (field->size != 8) {
        snprintf(reason, reason_size, "field %llu holds %zu bytes, not the 8 of a double",
                 (unsigned long long)field->tag, field->size);
        return -1;
    }
    uint64_t bits = read_u64(field->value);
    memcpy(value, &bits, sizeof *value);
    return 0;
}

/* --- the file header ----------------------------------------------------- */

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
        if (!(header->sample_rate > 0.0 && header->sample_rate <= 1.0)) {
            snprintf(reason, reason_size, "sample rate %g is not in (0, 1]", header->sample_rate);
            return -1;
        }
        return 0;
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

/* --- chunks ------------------------------------------------------------------ */

enum chunk_status {
    CHUNK_OK,
    CHUNK_INCOMPLETE, /* the chunk does not fit before the limit */
    CHUNK_DAMAGED,    /* it fits but fails a check */
    CHUNK_FAILED,     /* the system failed; the reader is failed */
};

struct chunk_info {
    uint8_t kind;
    uint32_t compressed_size;
    uint32_t size;
    uint64_t end; /* offset after the chunk, as its header says (once read) */
};

/* Decompresses compressed_size bytes into reader->payload, which must come
 * out exactly chunk->size bytes long. Returns CHUNK_OK, CHUNK_DAMAGED with a
 * reason, or CHUNK_FAILED. */
static enum chunk_status chunk_decompress(struct capture_reader *reader, const uint8_t *compressed,
                                          const struct chunk_info *chunk, char *reason,
                                          size_t reason_size)
{
    size_t frame_size = ZSTD_findFrameCompressedSize(compressed, chunk->compressed_size);
    if (ZSTD_isError(frame_size) || frame_size != chunk->compressed_size) {
        snprintf(reason, reason_size, "the compressed bytes are not one zstd frame");
        return CHUNK_DAMAGED;
    }
    byte_buffer_clear(&reader->payload);
    if (byte_buffer_reserve(&reader->payload, chunk->size ? chunk->size : 1) < 0) {
        reader_out_of_memory(reader);
        return CHUNK_FAILED;
    }
    size_t produced = ZSTD_decompressDCtx(reader->decompressor, reader->payload.data,
                                          chunk->size, compressed, chunk->compressed_size);
    if (ZSTD_isError(produced)) {
        snprintf(reason, reason_size, "zstd: %s", ZSTD_getErrorName(produced));
        return CHUNK_DAMAGED;
    }
    if (produced != chunk->size) {
        snprintf(reason, reason_size, "decompressed to %zu bytes, the chunk header says %u",
                 produced, chunk->size);
        return CHUNK_DAMAGED;
    }
    reader->payload.size = produced;
    return CHUNK_OK;
}

/*
 * Reads the chunk at offset, which must end by limit, checks its header and
 * CRC and decompresses it into reader->payload. Returns its status; a reason
 * in reason unless CHUNK_OK or CHUNK_FAILED; chunk->end is set whenever the
 * chunk header could be read.
 */
static enum chunk_status chunk_load(struct capture_reader *reader, uint64_t offset,
                                    uint64_t limit, struct chunk_info *chunk, char *reason,
                                    size_t reason_size)
{
    chunk->end = UINT64_MAX;
    if (limit - offset < CAPTURE_CHUNK_HEADER_SIZE) {
        snprintf(reason, reason_size, "only %llu of the %d bytes of a chunk header are present",
                 (unsigned long long)(limit - offset), CAPTURE_CHUNK_HEADER_SIZE);
        return CHUNK_INCOMPLETE;
    }
    const uint8_t *view = reader_view(reader, offset, CAPTURE_CHUNK_HEADER_SIZE);
    if (!view) {
        return CHUNK_FAILED;
    }
    chunk->kind = view[0];
    chunk->compressed_size = read_u32(view + 1);
    chunk->size = read_u32(view + 5);
    uint32_t checksum = read_u32(view + 9);
    chunk->end = offset + CAPTURE_CHUNK_HEADER_SIZE + chunk->compressed_size;
    if (chunk->kind != CHUNK_KIND_EVENTS && chunk->kind != CHUNK_KIND_FOOTER &&
        chunk->kind != CHUNK_KIND_AGGREGATE) {
        snprintf(reason, reason_size, "unknown chunk kind %u", chunk->kind);
        return CHUNK_DAMAGED;
    }
    if (chunk->compressed_size > CAPTURE_MAX_CHUNK_SIZE || chunk->size > CAPTURE_MAX_CHUNK_SIZE) {
        snprintf(reason, reason_size, "chunk sizes %u/%u exceed the limit of %u bytes",
                 chunk->compressed_size, chunk->size, CAPTURE_MAX_CHUNK_SIZE);
        return CHUNK_DAMAGED;
    }
    if (chunk->end > limit) {
        snprintf(reason, reason_size, "the chunk needs %u bytes, only %llu remain",
                 chunk->compressed_size,
                 (unsigned long long)(limit - offset - CAPTURE_CHUNK_HEADER_SIZE));
        return CHUNK_INCOMPLETE;
    }
    view = reader_view(reader, offset + CAPTURE_CHUNK_HEADER_SIZE, chunk->compressed_size);
    if (!view) {
        return CHUNK_FAILED;
    }
    if (crc32_compute(view, chunk->compressed_size) != checksum) {
        snprintf(reason, reason_size, "checksum mismatch");
        return CHUNK_DAMAGED;
    }
    return chunk_decompress(reader, view, chunk, reason, reason_size);
}

/* --- the footer ---------------------------------------------------------------- */

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

/* Parses the footer chunk now in reader->payload, found at footer_offset.
 * Returns 0, or -1 with a reason (or the reader failed). */
static int footer_parse(struct capture_reader *reader, uint64_t footer_offset, char *reason,
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
        if (field.tag == FOOTER_END_TIME_NS) {
            reader->footer.has_end_time = 1;
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

/* --- moving from chunk to chunk ---------------------------------------------- */

/* Ends the records of an untrailered file at offset. Returns 0. */
static int reader_stop_truncated(struct capture_reader *reader, uint64_t offset,
                                 const char *reason)
{
    snprintf(reader->truncation_note, sizeof reader->truncation_note,
             "the capture was not closed (no trailer); read %llu complete chunks, "
             "stopped at offset %llu: %s",
             (unsigned long long)reader->chunks_read, (unsigned long long)offset, reason);
    reader->state = READER_FINISHED;
    return 0;
}

/* Ends the records at body_end, checking that the footer's chunk index
 * listed every chunk. Returns 0, or -1 with the reader failed. */
static int reader_finish(struct capture_reader *reader)
{
    if (reader->has_chunk_index && reader->chunk_index_position != reader->footer.chunk_count) {
        return reader_fail(reader, 0,
                           "the footer's chunk index lists %llu chunks, the file has %llu",
                           (unsigned long long)reader->footer.chunk_count,
                           (unsigned long long)reader->chunks_read);
    }
    if (reader->truncated) {
        snprintf(reader->truncation_note, sizeof reader->truncation_note,
                 "the capture was not closed (no trailer); read %llu complete chunks "
                 "to the end of the file",
                 (unsigned long long)reader->chunks_read);
    }
    reader->state = READER_FINISHED;
    return 0;
}

/* Checks that the events chunk at offset is the next one the footer's
 * index lists. Returns 0, or -1 with the reader failed. */
static int reader_check_chunk_index(struct capture_reader *reader, uint64_t offset)
{
    if (!reader->has_chunk_index) {
        return 0;
    }
    const uint64_t *index = (const uint64_t *)reader->chunk_index.data;
    size_t position = reader->chunk_index_position;
    if (position >= reader->footer.chunk_count || index[position] != offset) {
        return reader_fail(reader, 0, "chunk at offset %llu: missing from the footer's chunk index",
                           (unsigned long long)offset);
    }
    reader->chunk_index_position++;
    return 0;
}

/* In an untrailered file, a footer chunk ends the records. Returns 0, or -1
 * with the reader failed. */
static int reader_take_unclosed_footer(struct capture_reader *reader, uint64_t offset,
                                       const struct chunk_info *chunk)
{
    char reason[REASON_SIZE];
    if (footer_parse(reader, offset, reason, sizeof reason) < 0) {
        if (reader->state == READER_FAILED) {
            return -1;
        }
        memset(&reader->footer, 0, sizeof reader->footer);
        if (chunk->end < reader->file_size) {
            return reader_fail(reader, 0, "footer chunk at offset %llu: %s",
                               (unsigned long long)offset, reason);
        }
        return reader_stop_truncated(reader, offset, reason);
    }
    reader->has_chunk_index = 0; /* nothing left to check it against */
    return reader_stop_truncated(reader, offset, "the footer was written, the trailer was not");
}

/* Keeps the aggregate chunk just loaded (it replaces an earlier one) and
 * moves past it. Returns 0, or -1 with the reader failed. */
static int reader_take_aggregate(struct capture_reader *reader, uint64_t offset,
                                 const struct chunk_info *chunk)
{
    struct capture_aggregate aggregate;
    char reason[REASON_SIZE];
    int decoded = aggregate_chunk_decode(reader->payload.data, reader->payload.size,
                                         reader->stack_count, &aggregate, reason, sizeof reason);
    if (decoded == -2) {
        return reader_out_of_memory(reader);
    }
    if (decoded < 0) {
        return reader_fail(reader, 0, "chunk at offset %llu: %s", (unsigned long long)offset,
                           reason);
    }
    if (reader->has_aggregate) {
        aggregate_chunk_release(&reader->aggregate);
    }
    reader->aggregate = aggregate;
    reader->has_aggregate = 1;
    reader->next_chunk_offset = chunk->end;
    reader->cursor = reader->payload_end = reader->payload.data;
    return 0;
}

/*
 * Loads the next events chunk, or ends the records. A chunk that fails its
 * checks is an error, except in an untrailered file where it reaches the end
 * of the file: there the writer was stopped. Returns 0 (loaded or finished)
 * or -1 with the reader failed.
 */
int file_reader_load_next_chunk(struct capture_reader *reader)
{
    uint64_t offset = reader->next_chunk_offset;
    if (offset == reader->body_end) {
        return reader_finish(reader);
    }
    struct chunk_info chunk;
    char reason[REASON_SIZE];
    enum chunk_status status = chunk_load(reader, offset, reader->body_end, &chunk, reason,
                                          sizeof reason);
    if (status == CHUNK_FAILED) {
        return -1;
    }
    if (status != CHUNK_OK) {
        if (!reader->has_trailer && chunk.end >= reader->file_size) {
            return reader_stop_truncated(reader, offset, reason);
        }
        return reader_fail(reader, 0, "chunk at offset %llu: %s", (unsigned long long)offset,
                           reason);
    }
    if (chunk.kind == CHUNK_KIND_FOOTER) {
        if (reader->has_trailer) {
            return reader_fail(reader, 0,
                               "chunk at offset %llu: a footer before the end of the file",
                               (unsigned long long)offset);
        }
        return reader_take_unclosed_footer(reader, offset, &chunk);
    }
    if (chunk.kind == CHUNK_KIND_AGGREGATE) {
        return reader_take_aggregate(reader, offset, &chunk);
    }
    if (reader_check_chunk_index(reader, offset) < 0) {
        return -1;
    }
    reader->chunk_offset = offset;
    reader->next_chunk_offset = chunk.end;
    reader->chunks_read++;
    reader->cursor = reader->payload.data;
    reader->payload_end = reader->payload.data + reader->payload.size;
    reader->current_thread = 0;
    reader->previous_address = 0;
    reader->chunk_allocations = 0;
    freed_history_reset(&reader->freed);
    return 0;
}
