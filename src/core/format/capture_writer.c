#include "core/format/capture_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "core/format/capture_format.h"
#include "core/format/crc32.h"
#include "core/base/tracker_memory.h"

/* Level 3 compresses records about as well as level 9 at a fraction of
 * the cost; chunks are compressed off the application's threads. */
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

int capture_writer_begin(struct capture_writer *writer, int descriptor,
                         const struct byte_buffer *header_payload)
{
    memset(writer, 0, sizeof *writer);
    writer->fd = descriptor;
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

int capture_writer_open(struct capture_writer *writer, const char *path, int overwrite,
                        const struct byte_buffer *header_payload, char *error,
                        size_t error_size)
{
    memset(writer, 0, sizeof *writer);
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

int capture_writer_write_chunk(struct capture_writer *writer, int kind,
                               const uint8_t *payload, size_t size)
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
    uint8_t header[CAPTURE_CHUNK_HEADER_SIZE];
    header[0] = (uint8_t)kind;
    put_u32(header + 1, (uint32_t)compressed);
    put_u32(header + 5, (uint32_t)size);
    put_u32(header + 9, crc32_compute(writer->compressed.data, compressed));
    if (kind == CHUNK_KIND_EVENTS && remember_chunk_offset(writer) < 0) {
        writer->error_number = ENOMEM;
        return -1;
    }
    if (write_fully(writer, header, sizeof header) < 0 ||
        write_fully(writer, writer->compressed.data, compressed) < 0) {
        return -1;
    }
    return 0;
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

int capture_writer_finish(struct capture_writer *writer, struct byte_buffer *footer_payload)
{
    int result = -1;
    if (!writer->error_number && append_chunk_index(writer, footer_payload) < 0) {
        writer->error_number = ENOMEM;
    }
    uint64_t footer_offset = writer->offset;
    if (!writer->error_number &&
        capture_writer_write_chunk(writer, CHUNK_KIND_FOOTER, footer_payload->data,
                                   footer_payload->size) == 0) {
        uint8_t trailer[CAPTURE_TRAILER_SIZE];
        put_u64(trailer, footer_offset);
        memcpy(trailer + 8, CAPTURE_TRAILER_MAGIC, CAPTURE_TRAILER_MAGIC_SIZE);
        result = write_fully(writer, trailer, sizeof trailer);
    }
    if (close(writer->fd) < 0 && result == 0) {
        writer->error_number = errno;
        result = -1;
    }
    writer->fd = -1;
    capture_writer_abandon(writer);
    return result;
}

int capture_writer_close_unfinished(struct capture_writer *writer)
{
    int result = writer->error_number ? -1 : 0;
    if (close(writer->fd) < 0 && result == 0) {
        writer->error_number = errno;
        result = -1;
    }
    writer->fd = -1;
    capture_writer_abandon(writer);
    return result;
}

void capture_writer_abandon(struct capture_writer *writer)
{
    if (writer->fd >= 0) {
        close(writer->fd);
        writer->fd = -1;
    }
    ZSTD_freeCCtx(writer->compressor);
    writer->compressor = NULL;
    byte_buffer_release(&writer->compressed);
    tracker_free(writer->chunk_offsets, writer->chunk_capacity * sizeof(uint64_t));
    writer->chunk_offsets = NULL;
    writer->chunk_count = writer->chunk_capacity = 0;
}
