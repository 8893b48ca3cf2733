/* The capture reader's public API (capture_reader.h): opening, closing,
 * pulling records, and the tables; plus the error helpers the file level
 * (capture_file_*.c) and the record decoder (capture_record_decoder.c)
 * share. */
#include "core/format/capture_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "core/format/aggregate_chunk.h"
#include "core/base/byte_buffer.h"
#include "core/format/capture_reader_internal.h"
#include "core/base/hash_map.h"
#include "core/base/tracker_memory.h"
#include "core/base/varint.h"

/* --- errors ------------------------------------------------------------------ */

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
int reader_fail(struct capture_reader *reader, int os_errno, const char *format, ...)
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

int reader_out_of_memory(struct capture_reader *reader)
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

const char *reader_varint_problem(const uint8_t *cursor, const uint8_t *end)
{
    return varint_ends_early(cursor, end) ? "the data ends inside a varint"
                                          : "a varint is longer than 64 bits";
}

/* --- the public API -------------------------------------------------------------- */

int capture_reader_next(struct capture_reader *reader, struct capture_record *record)
{
    while (reader->state == READER_READING) {
        if (reader->cursor == reader->payload_end) {
            if (file_reader_load_next_chunk(reader) < 0) {
                return -1;
            }
            continue;
        }
        int decoded = record_decoder_decode(reader, record);
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
    reader->header.max_chunk_size = CAPTURE_MAX_CHUNK_SIZE;
    reader->header.python_version = "";
    reader->header.command = "";
    hash_map_init(&reader->thread_positions);
    reader->address_state = &reader->address_states[0];
    reader->state = READER_READING;
    reader->decompressor = ZSTD_createDCtx();
    reader->stream_decompressor = ZSTD_createDCtx();
    /* A frame's window is bounded by what the writer keeps of it. */
    if (!reader->decompressor || !reader->stream_decompressor ||
        ZSTD_isError(ZSTD_DCtx_setParameter(reader->stream_decompressor,
                                            ZSTD_d_windowLogMax, CAPTURE_STREAM_WINDOW_LOG))) {
        ZSTD_freeDCtx(reader->decompressor);
        ZSTD_freeDCtx(reader->stream_decompressor);
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
    if (file_reader_read_header(reader) < 0 || file_reader_read_trailer(reader) < 0) {
        *error = reader->error;
        capture_reader_close(reader);
        return NULL;
    }
    reader->next_chunk_offset = reader->body_start;
    reader->table_budget =
        reader->file_size * CAPTURE_TABLE_BYTES_PER_FILE_BYTE + CAPTURE_MAX_CHUNK_SIZE;
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
    ZSTD_freeDCtx(reader->stream_decompressor);
    for (uint32_t state = 0; state < ADDRESS_STATES; state++) {
        tracker_free(reader->recent_allocations[state],
                     reader->recent_capacity * sizeof(uint64_t));
    }
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

uint64_t capture_reader_bytes_read(const struct capture_reader *reader)
{
    uint64_t consumed = reader->next_chunk_offset;
    return consumed < reader->file_size ? consumed : reader->file_size;
}

uint64_t capture_reader_file_size(const struct capture_reader *reader)
{
    return reader->file_size;
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
