#include "core/format/capture_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "core/format/capture_format.h"
#include "core/format/capture_writer_internal.h"
#include "core/format/crc32.h"
#include "core/base/temporary_file.h"
#include "core/base/tracker_memory.h"

/* For the chunks compressed alone (footer, aggregates, a ring's window):
 * events chunks go through capture_event_stream.c. */
#define CAPTURE_COMPRESSION_LEVEL 3

static void put_u16(uint8_t *out, uint16_t value)
{
    out[0] = (uint8_t)value;
    out[1] = (uint8_t)(value >> 8);
}

static void put_u32(uint8_t *out, uint32_t value)
{
    for (int index = 0; index < 4; index++) {
        out[index] = (uint8_t)(value >> (8 * index));
    }
}

static void put_u64(uint8_t *out, uint64_t value)
{
    for (int index = 0; index < 8; index++) {
        out[index] = (uint8_t)(value >> (8 * index));
    }
}

/* Writes all of data, retrying on EINTR and short writes. */
static int write_fully(struct capture_writer *writer, const void *data, size_t size)
{
    const uint8_t *bytes = data;
    while (size) {
        ssize_t written = write(writer->fd, bytes, size);
        if (written < 0 && errno == EINTR) {
            continue;
        }
        if (written <= 0) {
            writer->error_number = written < 0 ? errno : EIO;
            return -1;
        }
        bytes += written;
        size -= (size_t)written;
        writer->offset += (uint64_t)written;
    }
    return 0;
}

static int write_header(struct capture_writer *writer, const struct byte_buffer *payload)
{
    uint8_t fixed[CAPTURE_FILE_HEADER_FIXED_SIZE];
    memcpy(fixed, CAPTURE_MAGIC, CAPTURE_MAGIC_SIZE);
    put_u16(fixed + 4, CAPTURE_FORMAT_VERSION);
    put_u16(fixed + 6, 0);
    put_u32(fixed + 8, (uint32_t)payload->size);
    uint8_t checksum[4];
    put_u32(checksum, crc32_compute(payload->data, payload->size));
    if (write_fully(writer, fixed, sizeof fixed) < 0 ||
        write_fully(writer, payload->data, payload->size) < 0 ||
        write_fully(writer, checksum, sizeof checksum) < 0) {
        return -1;
    }
    return 0;
}

/* Tells the user, in one line on stderr, that the program closed the
 * capture's descriptor and whether the recording goes on. */
static void announce_descriptor_loss(const struct capture_writer *writer, int continued)
{
    char message[PATH_MAX + 128];
    int length = snprintf(message, sizeof message,
                          "memlyze: the capture's file descriptor was closed by the program; "
                          "recording %s%s\n",
                          continued ? "continues through " : "stopped",
                          continued ? writer->path : "");
    if (length > 0) {
        size_t size = (size_t)length < sizeof message ? (size_t)length : sizeof message - 1;
        ssize_t ignored = write(STDERR_FILENO, message, size);
        (void)ignored; /* nothing better to do when stderr is gone too */
    }
}

/* Opens the capture again by its path after the program closed or reused
 * its descriptor. Only the very file the writer created, holding exactly
 * what it wrote, will do: appending to anything else would not make a
 * readable capture. Returns 0, or -1 when the capture cannot go on. */
static int reopen_capture(struct capture_writer *writer)
{
    if (!writer->path[0]) {
        return -1;
    }
    int descriptor = open(writer->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (descriptor < 0) {
        return -1;
    }
    struct stat status;
    if (fstat(descriptor, &status) < 0 || status.st_dev != writer->identity.device ||
        status.st_ino != writer->identity.inode || (uint64_t)status.st_size != writer->offset) {
        close(descriptor); /* deleted, replaced or changed by someone else */
        return -1;
    }
    writer->fd = kept_descriptor_raise(descriptor);
    return 0;
}

/* Before anything goes through writer->fd: checks that it still names the
 * capture, reopening the capture when the program closed or reused it.
 * Returns 0, or -1 with error_number set when the capture must stop. */
static int check_descriptor(struct capture_writer *writer)
{
    if (writer->fd >= 0 && kept_descriptor_is_same(writer->fd, &writer->identity)) {
        return 0;
    }
    writer->fd = -1; /* closed, or the program's file now: never touch that number */
    if (reopen_capture(writer) == 0) {
        announce_descriptor_loss(writer, 1);
        return 0;
    }
    writer->error_number = EBADF;
    writer->descriptor_lost = 1;
    if (writer->path[0]) {
        announce_descriptor_loss(writer, 0);
    }
    return -1;
}

int capture_writer_close_descriptor(struct capture_writer *writer)
{
    int result = 0;
    if (writer->fd >= 0 && kept_descriptor_is_same(writer->fd, &writer->identity)) {
        result = close(writer->fd);
    }
    writer->fd = -1;
    return result;
}

int capture_writer_begin(struct capture_writer *writer, int descriptor,
                         const struct byte_buffer *header_payload)
{
    memset(writer, 0, sizeof *writer);
    /* Out of reach of the program's close loops and its next opens. */
    writer->fd = kept_descriptor_raise(descriptor);
    if (kept_descriptor_identify(writer->fd, &writer->identity) < 0) {
        writer->error_number = errno;
        close(writer->fd);
        writer->fd = -1;
        return -1;
    }
    writer->compressor = ZSTD_createCCtx();
    if (!writer->compressor ||
        ZSTD_isError(ZSTD_CCtx_setParameter(writer->compressor, ZSTD_c_compressionLevel,
                                            CAPTURE_COMPRESSION_LEVEL)) ||
        write_header(writer, header_payload) < 0) {
        if (!writer->error_number) {
            writer->error_number = ENOMEM;
        }
        int saved = writer->error_number;
        capture_writer_abandon(writer);
        writer->error_number = saved;
        return -1;
    }
    return 0;
}

/* Resolved now, while the name surely is the capture's: the program may
 * change directory before the capture has to be reopened. */
static void remember_path(struct capture_writer *writer, const char *path)
{
    if (!realpath(path, writer->path)) {
        writer->path[0] = 0;
    }
}

/* Replaces an existing regular file by a new capture whose header is
 * written before it takes the name: truncating first would leave an empty
 * file to a kill in between, and `memlyze run` creates the capture with a
 * placeholder header that must stay readable until the real one is there.
 * Returns 1 when done, 0 when the caller should truncate in place instead
 * (no such file, not a regular file, or a directory we cannot write in),
 * -1 on a failure reported in error. */
static int replace_existing_file(struct capture_writer *writer, const char *path,
                                 const struct byte_buffer *header_payload, char *error,
                                 size_t error_size)
{
    struct stat status;
    if (lstat(path, &status) < 0 || !S_ISREG(status.st_mode)) {
        return 0;
    }
    char temporary[PATH_MAX];
    int descriptor = temporary_file_create(path, temporary, sizeof temporary);
    if (descriptor < 0) {
        return 0;
    }
    if (capture_writer_begin(writer, descriptor, header_payload) < 0) {
        snprintf(error, error_size, "cannot write capture file %s: %s", path,
                 strerror(writer->error_number));
        unlink(temporary);
        return -1;
    }
    if (rename(temporary, path) < 0) {
        capture_writer_abandon(writer);
        unlink(temporary);
        return 0;
    }
    remember_path(writer, path);
    return 1;
}

int capture_writer_open(struct capture_writer *writer, const char *path, int overwrite,
                        const struct byte_buffer *header_payload, char *error,
                        size_t error_size)
{
    memset(writer, 0, sizeof *writer);
    if (overwrite) {
        int replaced = replace_existing_file(writer, path, header_payload, error, error_size);
        if (replaced != 0) {
            return replaced > 0 ? 0 : -1;
        }
        memset(writer, 0, sizeof *writer);
    }
    int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (overwrite ? 0 : O_EXCL);
    int descriptor = open(path, flags, 0644);
    if (descriptor < 0) {
        writer->fd = -1;
        snprintf(error, error_size, "cannot create capture file %s: %s", path, strerror(errno));
        return -1;
    }
    if (capture_writer_begin(writer, descriptor, header_payload) < 0) {
        snprintf(error, error_size, "cannot write capture file %s: %s", path,
                 strerror(writer->error_number));
        unlink(path);
        return -1;
    }
    remember_path(writer, path);
    return 0;
}

static int remember_chunk_offset(struct capture_writer *writer)
{
    if (writer->chunk_count == writer->chunk_capacity) {
        size_t capacity = writer->chunk_capacity ? writer->chunk_capacity * 2 : 64;
        uint64_t *grown = tracker_realloc(writer->chunk_offsets,
                                          writer->chunk_capacity * sizeof(uint64_t),
                                          capacity * sizeof(uint64_t));
        if (!grown) {
            return -1;
        }
        writer->chunk_offsets = grown;
        writer->chunk_capacity = capacity;
    }
    writer->chunk_offsets[writer->chunk_count++] = writer->offset;
    return 0;
}

/* After a chunk's write failed part way (a full disk): cuts the file back
 * to where the chunk began, so that the capture ends on a whole chunk and
 * gives the space back, and drops the chunk from the index. */
static void forget_partial_chunk(struct capture_writer *writer, int indexed, uint64_t chunk_start)
{
    if (indexed && writer->chunk_count) {
        writer->chunk_count--;
    }
    if (writer->offset != chunk_start && ftruncate(writer->fd, (off_t)chunk_start) == 0) {
        writer->offset = chunk_start;
    }
}

int capture_writer_put_compressed(struct capture_writer *writer, int kind, size_t size,
                                  const uint8_t *compressed, size_t compressed_size)
{
    if (compressed_size > CAPTURE_MAX_CHUNK_SIZE) {
        writer->error_number = EFBIG;
        return -1;
    }
    uint8_t header[CAPTURE_CHUNK_HEADER_SIZE];
    header[0] = (uint8_t)kind;
    put_u32(header + 1, (uint32_t)compressed_size);
    put_u32(header + 5, (uint32_t)size);
    put_u32(header + 9, crc32_compute(compressed, compressed_size));
    /* Here, right before the writes: a reopen changes nothing above. */
    if (check_descriptor(writer) < 0) {
        return -1;
    }
    int indexed = capture_chunk_kind_is_events(kind);
    if (indexed && remember_chunk_offset(writer) < 0) {
        writer->error_number = ENOMEM;
        return -1;
    }
    uint64_t chunk_start = writer->offset;
    if (write_fully(writer, header, sizeof header) < 0 ||
        write_fully(writer, compressed, compressed_size) < 0) {
        forget_partial_chunk(writer, indexed, chunk_start);
        return -1;
    }
    return 0;
}

int capture_writer_check_payload(struct capture_writer *writer, size_t size)
{
    if (writer->error_number) {
        return -1;
    }
    /* Readers refuse larger chunks (the header's HEADER_MAX_CHUNK_SIZE):
     * failing here beats writing a capture nobody can read. */
    if (size > CAPTURE_MAX_CHUNK_SIZE) {
        writer->error_number = EFBIG;
        return -1;
    }
    return 0;
}

int capture_writer_write_chunk(struct capture_writer *writer, int kind,
                               const uint8_t *payload, size_t size)
{
    if (capture_writer_check_payload(writer, size) < 0) {
        return -1;
    }
    size_t bound = ZSTD_compressBound(size);
    byte_buffer_clear(&writer->compressed);
    if (byte_buffer_reserve(&writer->compressed, bound) < 0) {
        writer->error_number = ENOMEM;
        return -1;
    }
    size_t compressed = ZSTD_compress2(writer->compressor, writer->compressed.data, bound,
                                       payload, size);
    if (ZSTD_isError(compressed)) {
        writer->error_number = EIO;
        return -1;
    }
    return capture_writer_put_compressed(writer, kind, size, writer->compressed.data, compressed);
}

static int append_chunk_index(struct capture_writer *writer, struct byte_buffer *footer)
{
    struct byte_buffer index = {0};
    int result = byte_buffer_append_varint(&index, writer->chunk_count);
    uint64_t previous = 0;
    for (size_t position = 0; result == 0 && position < writer->chunk_count; position++) {
        result = byte_buffer_append_varint(&index, writer->chunk_offsets[position] - previous);
        previous = writer->chunk_offsets[position];
    }
    if (result == 0) {
        result = byte_buffer_append_tlv_bytes(footer, FOOTER_CHUNK_OFFSETS, index.data,
                                              index.size);
    }
    byte_buffer_release(&index);
    return result;
}

int capture_writer_seal(struct capture_writer *writer, struct byte_buffer *footer_payload)
{
    if (!writer->error_number && append_chunk_index(writer, footer_payload) < 0) {
        writer->error_number = ENOMEM;
    }
    uint64_t footer_offset = writer->offset;
    if (writer->error_number ||
        capture_writer_write_chunk(writer, CHUNK_KIND_FOOTER, footer_payload->data,
                                   footer_payload->size) < 0) {
        return -1;
    }
    uint8_t trailer[CAPTURE_TRAILER_SIZE];
    put_u64(trailer, footer_offset);
    memcpy(trailer + 8, CAPTURE_TRAILER_MAGIC, CAPTURE_TRAILER_MAGIC_SIZE);
    writer->sealed = 1;
    writer->sealed_offset = footer_offset;
    return write_fully(writer, trailer, sizeof trailer);
}

int capture_writer_unseal(struct capture_writer *writer)
{
    if (!writer->sealed) {
        return writer->error_number ? -1 : 0;
    }
    writer->sealed = 0;
    /* Truncate only the capture: a number the program took over is its own. */
    if (check_descriptor(writer) < 0) {
        return -1;
    }
    if (ftruncate(writer->fd, (off_t)writer->sealed_offset) < 0 ||
        lseek(writer->fd, (off_t)writer->sealed_offset, SEEK_SET) < 0) {
        writer->error_number = errno;
        return -1;
    }
    writer->offset = writer->sealed_offset;
    return 0;
}

int capture_writer_finish(struct capture_writer *writer, struct byte_buffer *footer_payload)
{
    int result = writer->sealed ? (writer->error_number ? -1 : 0)
                                : capture_writer_seal(writer, footer_payload);
    if (capture_writer_close_descriptor(writer) < 0 && result == 0) {
        writer->error_number = errno;
        result = -1;
    }
    capture_writer_abandon(writer);
    return result;
}

int capture_writer_close_unfinished(struct capture_writer *writer)
{
    int result = writer->error_number ? -1 : 0;
    if (capture_writer_close_descriptor(writer) < 0 && result == 0) {
        writer->error_number = errno;
        result = -1;
    }
    capture_writer_abandon(writer);
    return result;
}

void capture_writer_abandon(struct capture_writer *writer)
{
    capture_writer_close_descriptor(writer);
    ZSTD_freeCCtx(writer->compressor);
    writer->compressor = NULL;
    capture_event_stream_release(&writer->event_stream);
    byte_buffer_release(&writer->compressed);
    tracker_free(writer->chunk_offsets, writer->chunk_capacity * sizeof(uint64_t));
    writer->chunk_offsets = NULL;
    writer->chunk_count = writer->chunk_capacity = 0;
}
