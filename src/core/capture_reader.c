#include "capture_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "aggregate_chunk.h"
#include "address_history.h"
#include "byte_buffer.h"
#include "crc32.h"
#include "hash_map.h"
#include "tracker_memory.h"
#include "varint.h"

/* Room for a reason before it is prefixed with where it happened. */
#define REASON_SIZE 160

enum reader_state {
    READER_READING,
    READER_FINISHED,
    READER_FAILED,
};

struct string_entry {
    uint64_t offset; /* in string_bytes */
    uint64_t size;
};

struct capture_reader {
    /* Where the bytes come from: caller's memory, or fd read with pread. */
    const uint8_t *memory;
    int fd;
    uint64_t file_size;
    struct byte_buffer file_bytes; /* pread scratch for fd */

    struct capture_header header;
    char *python_version; /* owned copies behind header's pointers */
    char *command;
    struct capture_footer footer;
    struct byte_buffer chunk_index; /* uint64_t offsets from the footer */
    int has_chunk_index;
    size_t chunk_index_position;    /* next entry to meet */

    int has_trailer;
    uint64_t body_start;        /* first chunk */
    uint64_t body_end;          /* footer offset, or the file size without trailer */
    uint64_t next_chunk_offset; /* chunk to load after the current one */
    uint64_t chunk_offset;      /* of the chunk being decoded */
    uint64_t chunks_read;

    ZSTD_DCtx *decompressor;
    struct byte_buffer payload; /* the current chunk, decompressed */
    const uint8_t *cursor;      /* next record in payload */
    const uint8_t *payload_end;
    const uint8_t *record_start;
    uint64_t current_thread;
    uint64_t previous_address;
    /* Per chunk (address_history.h): every allocation's address by its
     * place in the chunk, and the latest freed addresses. */
    uint64_t *recent_allocations; /* RECENT_ALLOCATIONS entries, tracker heap */
    uint64_t chunk_allocations;
    struct freed_history freed;

    struct byte_buffer string_bytes; /* each string followed by a NUL */
    struct byte_buffer strings;      /* struct string_entry of id 1, 2, ... */
    struct byte_buffer frames;       /* struct capture_frame of id 1, 2, ... */
    struct byte_buffer stacks;       /* struct capture_stack of id 1, 2, ... */
    struct byte_buffer threads;      /* struct capture_thread, first-seen order */
    struct byte_buffer native_stacks; /* struct capture_native_stack of id 1, 2, ... */
    struct byte_buffer mappings;      /* struct capture_mapping, file order */
    uint32_t native_stack_count;
    struct hash_map thread_positions; /* thread_id -> index in threads */
    uint32_t string_count;
    uint32_t frame_count;
    uint32_t stack_count;

    struct capture_aggregate aggregate; /* the latest aggregate chunk read */
    int has_aggregate;

    enum reader_state state;
    int truncated;
    char truncation_note[CAPTURE_ERROR_MESSAGE_SIZE];
    struct capture_error error;
};

/* --- small helpers --------------------------------------------------------- */

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

/* Fills error with a formatted message and os_errno. */
static void error_format(struct capture_error *error, int os_errno, const char *format,
                         va_list arguments)
{
    vsnprintf(error->message, sizeof error->message, format, arguments);
    error->os_errno = os_errno;
}

static void error_set(struct capture_error *error, int os_errno, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void error_set(struct capture_error *error, int os_errno, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    error_format(error, os_errno, format, arguments);
    va_end(arguments);
}

/* Records the first failure and stops the reader; always returns -1. */
static int reader_fail(struct capture_reader *reader, int os_errno, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static int reader_fail(struct capture_reader *reader, int os_errno, const char *format, ...)
{
    if (reader->state != READER_FAILED) {
        va_list arguments;
        va_start(arguments, format);
        error_format(&reader->error, os_errno, format, arguments);
        va_end(arguments);
        reader->state = READER_FAILED;
    }
    return -1;
}

static int reader_out_of_memory(struct capture_reader *reader)
{
    return reader_fail(reader, ENOMEM, "out of memory");
}

/* Returns nonzero when the varint at [cursor, end) fails because the input
 * ends inside it (rather than because it is longer than 64 bits). */
static int varint_ends_early(const uint8_t *cursor, const uint8_t *end)
{
    size_t available = (size_t)(end - cursor);
    for (size_t index = 0; index < VARINT_MAX_SIZE; index++) {
        if (index >= available) {
            return 1;
        }
        if (!(cursor[index] & 0x80)) {
            return 0;
        }
    }
    return 0;
}

static const char *varint_problem(const uint8_t *cursor, const uint8_t *end)
{
    return varint_ends_early(cursor, end) ? "the data ends inside a varint"
                                          : "a varint is longer than 64 bits";
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
        snprintf(reason, reason_size, "%s", varint_problem(*cursor, end));
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
static int reader_read_file_header(struct capture_reader *reader)
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
                     (unsigned long long)position, varint_problem(cursor, end));
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
static int reader_read_trailer(struct capture_reader *reader)
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
static int reader_load_next_chunk(struct capture_reader *reader)
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

/* --- records ------------------------------------------------------------------ */

/* Fails the reader with a message locating the current record. Returns -1. */
static int record_fail(struct capture_reader *reader, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static int record_fail(struct capture_reader *reader, const char *format, ...)
{
    char reason[REASON_SIZE];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(reason, sizeof reason, format, arguments);
    va_end(arguments);
    return reader_fail(reader, 0, "chunk at offset %llu: record at byte %zu: %s",
                       (unsigned long long)reader->chunk_offset,
                       (size_t)(reader->record_start - reader->payload.data), reason);
}

/* Reads one varint of the current record. Returns 0 or -1 (reader failed). */
static int take_varint(struct capture_reader *reader, uint64_t *value)
{
    if (varint_decode(&reader->cursor, reader->payload_end, value) == 0) {
        return 0;
    }
    return record_fail(reader, "%s", varint_problem(reader->cursor, reader->payload_end));
}

/* Reads an id that must be at most limit (the ids defined so far). */
static int take_id(struct capture_reader *reader, uint64_t limit, const char *what,
                   uint32_t *id)
{
    uint64_t value;
    if (take_varint(reader, &value) < 0) {
        return -1;
    }
    if (value > limit) {
        return record_fail(reader, "%s id %llu is not defined (%llu are)", what,
                           (unsigned long long)value, (unsigned long long)limit);
    }
    *id = (uint32_t)value;
    return 0;
}

/* Reads a varint that must fit 32 bits. */
static int take_u32(struct capture_reader *reader, const char *what, uint32_t *result)
{
    uint64_t value;
    if (take_varint(reader, &value) < 0) {
        return -1;
    }
    if (value > UINT32_MAX) {
        return record_fail(reader, "%s %llu is out of range", what, (unsigned long long)value);
    }
    *result = (uint32_t)value;
    return 0;
}

/* Reads zigzag(address - previous) and returns the address in *address. */
static int take_address(struct capture_reader *reader, uint64_t *address)
{
    uint64_t delta;
    if (take_varint(reader, &delta) < 0) {
        return -1;
    }
    reader->previous_address += (uint64_t)zigzag_decode(delta);
    *address = reader->previous_address;
    return 0;
}

/* Ids are 32-bit: a table may hold at most this many entries. */
static int check_room(struct capture_reader *reader, uint32_t count, const char *what)
{
    if (count >= UINT32_MAX - 1) {
        return record_fail(reader, "too many %s", what);
    }
    return 0;
}

static int decode_string(struct capture_reader *reader)
{
    uint64_t size;
    if (check_room(reader, reader->string_count, "strings") < 0 || take_varint(reader, &size) < 0) {
        return -1;
    }
    if (size > (uint64_t)(reader->payload_end - reader->cursor)) {
        return record_fail(reader, "a string of %llu bytes runs past the end of the chunk",
                           (unsigned long long)size);
    }
    struct string_entry entry = {reader->string_bytes.size, size};
    if (byte_buffer_reserve(&reader->string_bytes, (size_t)size + 1) < 0 ||
        byte_buffer_append(&reader->strings, &entry, sizeof entry) < 0) {
        return reader_out_of_memory(reader);
    }
    byte_buffer_append(&reader->string_bytes, reader->cursor, (size_t)size);
    byte_buffer_append_byte(&reader->string_bytes, 0);
    reader->cursor += size;
    reader->string_count++;
    return 0;
}

static int decode_frame(struct capture_reader *reader)
{
    struct capture_frame frame;
    if (check_room(reader, reader->frame_count, "frames") < 0 ||
        take_id(reader, reader->string_count, "function string", &frame.function_sid) < 0 ||
        take_id(reader, reader->string_count, "file string", &frame.file_sid) < 0 ||
        take_u32(reader, "line", &frame.line) < 0 ||
        take_u32(reader, "frame flags", &frame.flags) < 0) {
        return -1;
    }
    if (byte_buffer_append(&reader->frames, &frame, sizeof frame) < 0) {
        return reader_out_of_memory(reader);
    }
    reader->frame_count++;
    return 0;
}

static int decode_stack(struct capture_reader *reader)
{
    struct capture_stack stack;
    if (check_room(reader, reader->stack_count, "stacks") < 0 ||
        take_id(reader, reader->stack_count, "parent stack", &stack.parent_stack_id) < 0 ||
        take_id(reader, reader->frame_count, "frame", &stack.frame_id) < 0) {
        return -1;
    }
    if (stack.frame_id == 0) {
        return record_fail(reader, "a stack entry without a frame (frame id 0)");
    }
    if (byte_buffer_append(&reader->stacks, &stack, sizeof stack) < 0) {
        return reader_out_of_memory(reader);
    }
    reader->stack_count++;
    return 0;
}

/* Returns thread_id's entry, adding an undeclared one when it is new; NULL
 * with the reader failed on a bad id or no memory. */
static struct capture_thread *thread_entry(struct capture_reader *reader, uint64_t thread_id)
{
    if (thread_id == HASH_MAP_EMPTY_KEY) {
        record_fail(reader, "thread id %llu is out of range", (unsigned long long)thread_id);
        return NULL;
    }
    struct capture_thread *threads = (struct capture_thread *)reader->threads.data;
    uint64_t *position = hash_map_find(&reader->thread_positions, thread_id);
    if (position) {
        return &threads[*position];
    }
    size_t count = reader->threads.size / sizeof *threads;
    struct capture_thread entry = {thread_id, 0, 0};
    if (hash_map_put(&reader->thread_positions, thread_id, count) < 0 ||
        byte_buffer_append(&reader->threads, &entry, sizeof entry) < 0) {
        reader_out_of_memory(reader);
        return NULL;
    }
    return (struct capture_thread *)reader->threads.data + count;
}

static int decode_thread(struct capture_reader *reader)
{
    uint64_t thread_id = 0;
    uint64_t native_tid = 0;
    uint32_t name_sid = 0;
    if (take_varint(reader, &thread_id) < 0 || take_varint(reader, &native_tid) < 0 ||
        take_id(reader, reader->string_count, "thread name string", &name_sid) < 0) {
        return -1;
    }
    struct capture_thread *thread = thread_entry(reader, thread_id);
    if (!thread) {
        return -1;
    }
    thread->native_tid = native_tid;
    thread->name_sid = name_sid;
    return 0;
}

/* A switch to a thread not declared yet is allowed (the writer declares a
 * burst of new threads over several rounds); it is listed, unnamed. */
static int decode_switch_thread(struct capture_reader *reader)
{
    uint64_t thread_id = 0;
    if (take_varint(reader, &thread_id) < 0 || !thread_entry(reader, thread_id)) {
        return -1;
    }
    reader->current_thread = thread_id;
    return 0;
}

static int decode_gc(struct capture_reader *reader, struct capture_record *record)
{
    uint64_t generation;
    if (take_varint(reader, &generation) < 0 || take_varint(reader, &record->gc_collected) < 0 ||
        take_varint(reader, &record->gc_uncollectable) < 0 ||
        take_varint(reader, &record->gc_duration_ns) < 0) {
        return -1;
    }
    if (generation >= CAPTURE_GC_GENERATIONS) {
        return record_fail(reader, "gc generation %llu is out of range",
                           (unsigned long long)generation);
    }
    record->gc_generation = (uint32_t)generation;
    return 0;
}

static int decode_sampling(struct capture_reader *reader, struct capture_record *record)
{
    uint64_t mode;
    if (take_varint(reader, &mode) < 0 || take_varint(reader, &record->sample_mean) < 0) {
        return -1;
    }
    if (mode > CAPTURE_SAMPLING_BY_ALLOCATIONS || (mode != 0 && record->sample_mean == 0)) {
        return record_fail(reader, "sampling mode %llu with mean %llu is invalid",
                           (unsigned long long)mode, (unsigned long long)record->sample_mean);
    }
    record->sample_mode = (uint32_t)mode;
    return 0;
}

/* An OP_ALLOC_REUSED address: a place in the chunk's freed history. */
static int take_reused_address(struct capture_reader *reader, uint64_t *address)
{
    uint64_t place;
    if (take_varint(reader, &place) < 0) {
        return -1;
    }
    if (freed_history_get(&reader->freed, place, address) < 0) {
        return record_fail(reader, "reused address %llu frees back is not in this chunk",
                           (unsigned long long)place);
    }
    reader->previous_address = *address;
    return 0;
}

/* An OP_FREE_RECENT distance: the address of a recent allocation. */
static int take_recent_address(struct capture_reader *reader, uint64_t *address)
{
    uint64_t distance;
    if (take_varint(reader, &distance) < 0) {
        return -1;
    }
    if (distance == 0 || distance > reader->chunk_allocations || distance > RECENT_ALLOCATIONS) {
        return record_fail(reader, "free of the allocation %llu back is not in this chunk",
                           (unsigned long long)distance);
    }
    uint64_t place = reader->chunk_allocations - distance;
    *address = reader->recent_allocations[place & (RECENT_ALLOCATIONS - 1)];
    reader->previous_address = *address;
    return 0;
}

/* Notes an allocation's address for later OP_FREE_RECENT records; 0 or -1. */
static int remember_allocation(struct capture_reader *reader, uint64_t address)
{
    if (!reader->recent_allocations) {
        reader->recent_allocations = tracker_malloc(RECENT_ALLOCATIONS * sizeof(uint64_t));
        if (!reader->recent_allocations) {
            return reader_fail(reader, ENOMEM, "out of memory");
        }
    }
    reader->recent_allocations[reader->chunk_allocations++ & (RECENT_ALLOCATIONS - 1)] = address;
    return 0;
}

static int decode_allocation(struct capture_reader *reader, uint8_t opcode,
                             struct capture_record *record)
{
    int native = opcode >= OP_ALLOC_NATIVE && opcode < OP_ALLOC_NATIVE + ALLOCATOR_COUNT;
    int reused = opcode >= OP_ALLOC_REUSED;
    uint8_t base = native ? OP_ALLOC_NATIVE : reused ? OP_ALLOC_REUSED : OP_ALLOC;
    record->allocator = (uint32_t)(opcode - base);
    record->native_stack_id = 0;
    int address = reused ? take_reused_address(reader, &record->address)
                         : take_address(reader, &record->address);
    return address < 0 || take_varint(reader, &record->size) < 0 ||
                   take_id(reader, reader->stack_count, "stack", &record->stack_id) < 0 ||
                   (native && take_id(reader, reader->native_stack_count, "native stack",
                                      &record->native_stack_id) < 0) ||
                   remember_allocation(reader, record->address) < 0
               ? -1
               : 0;
}

/* A free of either form; its address joins the freed history. */
static int decode_free(struct capture_reader *reader, uint8_t opcode,
                       struct capture_record *record)
{
    int pymalloc = opcode == OP_FREE_PYMALLOC || opcode == OP_FREE_PYMALLOC_RECENT;
    int recent = opcode == OP_FREE_RECENT || opcode == OP_FREE_PYMALLOC_RECENT;
    record->kind = pymalloc ? CAPTURE_RECORD_PYMALLOC_FREE : CAPTURE_RECORD_FREE;
    record->size = 0;
    if ((recent ? take_recent_address(reader, &record->address)
                : take_address(reader, &record->address)) < 0) {
        return -1;
    }
    freed_history_push(&reader->freed, record->address);
    return 0;
}

static int decode_native_stack(struct capture_reader *reader)
{
    struct capture_native_stack stack;
    if (check_room(reader, reader->native_stack_count, "native stacks") < 0 ||
        take_id(reader, reader->native_stack_count, "parent native stack",
                &stack.parent_native_stack_id) < 0 ||
        take_varint(reader, &stack.ip) < 0) {
        return -1;
    }
    if (byte_buffer_append(&reader->native_stacks, &stack, sizeof stack) < 0) {
        return reader_out_of_memory(reader);
    }
    reader->native_stack_count++;
    return 0;
}

static int decode_mapping(struct capture_reader *reader)
{
    struct capture_mapping mapping;
    memset(&mapping, 0, sizeof mapping);
    uint64_t size;
    if (take_varint(reader, &mapping.start) < 0 || take_varint(reader, &mapping.end) < 0 ||
        take_varint(reader, &mapping.load_bias) < 0 ||
        take_id(reader, reader->string_count, "mapping path string", &mapping.path_sid) < 0 ||
        take_varint(reader, &size) < 0) {
        return -1;
    }
    if (size > CAPTURE_BUILD_ID_MAX || size > (uint64_t)(reader->payload_end - reader->cursor)) {
        return record_fail(reader, "a build-id of %llu bytes is too long or runs past the chunk",
                           (unsigned long long)size);
    }
    if (mapping.end < mapping.start) {
        return record_fail(reader, "a mapping ends before it starts");
    }
    mapping.build_id_size = (uint32_t)size;
    memcpy(mapping.build_id, reader->cursor, (size_t)size);
    reader->cursor += size;
    if (byte_buffer_append(&reader->mappings, &mapping, sizeof mapping) < 0) {
        return reader_out_of_memory(reader);
    }
    return 0;
}

/* Decodes a definition record. Returns 0, or -1 with the reader failed. */
static int decode_definition(struct capture_reader *reader, uint8_t opcode)
{
    switch (opcode) {
    case OP_STRING: return decode_string(reader);
    case OP_FRAME: return decode_frame(reader);
    case OP_STACK: return decode_stack(reader);
    case OP_THREAD: return decode_thread(reader);
    default: return decode_switch_thread(reader);
    }
}

/* Decodes an event record's fields into *record. Returns 0 or -1. */
static int decode_event(struct capture_reader *reader, uint8_t opcode,
                        struct capture_record *record)
{
    switch (opcode) {
    case OP_TIME:
        record->kind = CAPTURE_RECORD_TIME;
        return take_varint(reader, &record->time_ns);
    case OP_RSS:
        record->kind = CAPTURE_RECORD_RSS;
        return take_varint(reader, &record->rss_bytes) < 0 ||
                       take_varint(reader, &record->minor_faults) < 0 ||
                       take_varint(reader, &record->major_faults) < 0
                   ? -1
                   : 0;
    case OP_GC:
        record->kind = CAPTURE_RECORD_GC;
        return decode_gc(reader, record);
    case OP_SNAPSHOT:
        record->kind = CAPTURE_RECORD_SNAPSHOT;
        return 0;
    case OP_SAMPLING:
        record->kind = CAPTURE_RECORD_SAMPLING;
        return decode_sampling(reader, record);
    case OP_FREE:
    case OP_FREE_PYMALLOC:
    case OP_FREE_RECENT:
    case OP_FREE_PYMALLOC_RECENT:
        return decode_free(reader, opcode, record);
    case OP_MUNMAP:
        record->kind = CAPTURE_RECORD_MUNMAP;
        return take_address(reader, &record->address) < 0 ? -1 : take_varint(reader, &record->size);
    default:
        record->kind = CAPTURE_RECORD_ALLOCATION;
        return decode_allocation(reader, opcode, record);
    }
}

/* Decodes the record at the cursor. Returns 1 for an event (in *record), 0
 * for a definition, -1 with the reader failed. */
static int decode_record(struct capture_reader *reader, struct capture_record *record)
{
    reader->record_start = reader->cursor;
    uint8_t opcode = *reader->cursor++;
    if (opcode >= OP_STRING && opcode <= OP_SWITCH_THREAD) {
        return decode_definition(reader, opcode);
    }
    if (opcode == OP_NATIVE_STACK || opcode == OP_MAPPING) {
        return opcode == OP_NATIVE_STACK ? decode_native_stack(reader) : decode_mapping(reader);
    }
    int known = (opcode >= OP_TIME && opcode <= OP_SAMPLING) ||
                (opcode >= OP_ALLOC && opcode < OP_ALLOC + ALLOCATOR_COUNT) ||
                (opcode >= OP_ALLOC_NATIVE && opcode < OP_ALLOC_NATIVE + ALLOCATOR_COUNT) ||
                (opcode >= OP_ALLOC_REUSED && opcode < OP_ALLOC_REUSED + ALLOCATOR_COUNT) ||
                (opcode >= OP_FREE && opcode <= OP_FREE_PYMALLOC_RECENT);
    if (!known) {
        return record_fail(reader, "unknown opcode 0x%02x", opcode);
    }
    record->thread_id = reader->current_thread;
    return decode_event(reader, opcode, record) < 0 ? -1 : 1;
}

/* --- the public API -------------------------------------------------------------- */

int capture_reader_next(struct capture_reader *reader, struct capture_record *record)
{
    while (reader->state == READER_READING) {
        if (reader->cursor == reader->payload_end) {
            if (reader_load_next_chunk(reader) < 0) {
                return -1;
            }
            continue;
        }
        int decoded = decode_record(reader, record);
        if (decoded != 0) {
            return decoded;
        }
    }
    return reader->state == READER_FAILED ? -1 : 0;
}

/* Allocates a reader with empty tables and header defaults; NULL when out
 * of memory. */
static struct capture_reader *reader_new(void)
{
    struct capture_reader *reader = tracker_calloc(1, sizeof *reader);
    if (!reader) {
        return NULL;
    }
    reader->fd = -1;
    reader->header.sample_rate = 1.0;
    reader->header.python_version = "";
    reader->header.command = "";
    hash_map_init(&reader->thread_positions);
    reader->state = READER_READING;
    reader->decompressor = ZSTD_createDCtx();
    if (!reader->decompressor) {
        tracker_free(reader, sizeof *reader);
        return NULL;
    }
    return reader;
}

/* Reads header and trailer of a reader whose source is set. Returns the
 * reader, or NULL (reader closed) with error filled. */
static struct capture_reader *reader_start(struct capture_reader *reader,
                                           struct capture_error *error)
{
    if (reader_read_file_header(reader) < 0 || reader_read_trailer(reader) < 0) {
        *error = reader->error;
        capture_reader_close(reader);
        return NULL;
    }
    reader->next_chunk_offset = reader->body_start;
    return reader;
}

struct capture_reader *capture_reader_open_memory(const void *data, size_t size,
                                                  struct capture_error *error)
{
    struct capture_reader *reader = reader_new();
    if (!reader) {
        error_set(error, ENOMEM, "out of memory");
        return NULL;
    }
    static const uint8_t empty[1];
    reader->memory = data ? data : empty;
    reader->file_size = data ? size : 0;
    return reader_start(reader, error);
}

struct capture_reader *capture_reader_open(const char *path, struct capture_error *error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat status;
    if (fd < 0 || fstat(fd, &status) < 0) {
        error_set(error, errno, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(status.st_mode)) {
        error_set(error, EISDIR, "cannot read %s: %s", path, strerror(EISDIR));
        goto fail;
    }
    if (!S_ISREG(status.st_mode)) {
        error_set(error, 0, "%s is not a regular file", path);
        goto fail;
    }
    struct capture_reader *reader = reader_new();
    if (!reader) {
        error_set(error, ENOMEM, "out of memory");
        goto fail;
    }
    reader->fd = fd;
    reader->file_size = (uint64_t)status.st_size;
    return reader_start(reader, error);
fail:
    if (fd >= 0) {
        close(fd);
    }
    return NULL;
}

void capture_reader_close(struct capture_reader *reader)
{
    if (!reader) {
        return;
    }
    if (reader->fd >= 0) {
        close(reader->fd);
    }
    ZSTD_freeDCtx(reader->decompressor);
    tracker_free(reader->recent_allocations, RECENT_ALLOCATIONS * sizeof(uint64_t));
    if (reader->python_version) {
        tracker_free(reader->python_version, reader->header.python_version_size + 1);
    }
    if (reader->command) {
        tracker_free(reader->command, reader->header.command_size + 1);
    }
    struct byte_buffer *buffers[] = {
        &reader->file_bytes, &reader->chunk_index, &reader->payload, &reader->string_bytes,
        &reader->strings,    &reader->frames,      &reader->stacks,  &reader->threads,
        &reader->native_stacks, &reader->mappings,
    };
    for (size_t index = 0; index < sizeof buffers / sizeof buffers[0]; index++) {
        byte_buffer_release(buffers[index]);
    }
    hash_map_release(&reader->thread_positions);
    if (reader->has_aggregate) {
        aggregate_chunk_release(&reader->aggregate);
    }
    tracker_free(reader, sizeof *reader);
}

const struct capture_error *capture_reader_error(const struct capture_reader *reader)
{
    return &reader->error;
}

const struct capture_header *capture_reader_header(const struct capture_reader *reader)
{
    return &reader->header;
}

const struct capture_footer *capture_reader_footer(const struct capture_reader *reader)
{
    return &reader->footer;
}

const struct capture_aggregate *capture_reader_aggregate(const struct capture_reader *reader)
{
    return reader->has_aggregate ? &reader->aggregate : NULL;
}

int capture_reader_truncated(const struct capture_reader *reader)
{
    return reader->truncated;
}

const char *capture_reader_truncation_note(const struct capture_reader *reader)
{
    if (!reader->truncated) {
        return NULL;
    }
    if (!reader->truncation_note[0]) {
        return "the capture was not closed (no trailer); its records have not been read yet";
    }
    return reader->truncation_note;
}

uint64_t capture_reader_chunks_read(const struct capture_reader *reader)
{
    return reader->chunks_read;
}

uint32_t capture_reader_string_count(const struct capture_reader *reader)
{
    return reader->string_count;
}

const char *capture_reader_string(const struct capture_reader *reader, uint32_t string_id,
                                  size_t *size)
{
    if (string_id > reader->string_count) {
        return NULL;
    }
    if (string_id == 0) {
        if (size) {
            *size = 0;
        }
        return "";
    }
    const struct string_entry *entry = (const struct string_entry *)reader->strings.data +
                                       (string_id - 1);
    if (size) {
        *size = (size_t)entry->size;
    }
    return (const char *)reader->string_bytes.data + entry->offset;
}

uint32_t capture_reader_frame_count(const struct capture_reader *reader)
{
    return reader->frame_count;
}

const struct capture_frame *capture_reader_frame(const struct capture_reader *reader,
                                                 uint32_t frame_id)
{
    if (frame_id == 0 || frame_id > reader->frame_count) {
        return NULL;
    }
    return (const struct capture_frame *)reader->frames.data + (frame_id - 1);
}

uint32_t capture_reader_stack_count(const struct capture_reader *reader)
{
    return reader->stack_count;
}

const struct capture_stack *capture_reader_stack(const struct capture_reader *reader,
                                                 uint32_t stack_id)
{
    if (stack_id == 0 || stack_id > reader->stack_count) {
        return NULL;
    }
    return (const struct capture_stack *)reader->stacks.data + (stack_id - 1);
}

size_t capture_reader_thread_count(const struct capture_reader *reader)
{
    return reader->threads.size / sizeof(struct capture_thread);
}

const struct capture_thread *capture_reader_thread(const struct capture_reader *reader,
                                                   size_t index)
{
    if (index >= capture_reader_thread_count(reader)) {
        return NULL;
    }
    return (const struct capture_thread *)reader->threads.data + index;
}

uint32_t capture_reader_native_stack_count(const struct capture_reader *reader)
{
    return reader->native_stack_count;
}

const struct capture_native_stack *capture_reader_native_stack(const struct capture_reader *reader,
                                                               uint32_t native_stack_id)
{
    if (native_stack_id == 0 || native_stack_id > reader->native_stack_count) {
        return NULL;
    }
    return (const struct capture_native_stack *)reader->native_stacks.data + native_stack_id - 1;
}

size_t capture_reader_mapping_count(const struct capture_reader *reader)
{
    return reader->mappings.size / sizeof(struct capture_mapping);
}

const struct capture_mapping *capture_reader_mapping(const struct capture_reader *reader,
                                                     size_t index)
{
    if (index >= capture_reader_mapping_count(reader)) {
        return NULL;
    }
    return (const struct capture_mapping *)reader->mappings.data + index;
}
