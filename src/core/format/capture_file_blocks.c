/* The blocks the capture file is made of, as the rest of the file level
 * reads them: views of the file's bytes (caller's memory or pread), the
 * fields of TLV blocks, and one chunk checked and decompressed. */
#include "core/format/capture_file_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "core/base/byte_buffer.h"
#include "core/format/crc32.h"
#include "core/base/varint.h"

/* --- reading bytes of the file --------------------------------------------- */

const uint8_t *reader_view(struct capture_reader *reader, uint64_t offset, size_t size)
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

int tlv_next(const uint8_t **cursor, const uint8_t *end, struct tlv_field *field, char *reason,
             size_t reason_size)
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

int tlv_varint(const struct tlv_field *field, uint64_t *value, char *reason, size_t reason_size)
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

int tlv_double(const struct tlv_field *field, double *value, char *reason, size_t reason_size)
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

/* --- chunks ------------------------------------------------------------------ */

static int reserve_payload(struct capture_reader *reader, const struct chunk_info *chunk)
{
    byte_buffer_clear(&reader->payload);
    if (byte_buffer_reserve(&reader->payload, chunk->size ? chunk->size : 1) < 0) {
        reader_out_of_memory(reader);
        return -1;
    }
    return 0;
}

/* A chunk that is one zstd frame (and none a stream part may continue). */
static enum chunk_status decompress_frame(struct capture_reader *reader,
                                          const uint8_t *compressed,
                                          const struct chunk_info *chunk, char *reason,
                                          size_t reason_size)
{
    reader->stream_open = 0;
    size_t frame_size = ZSTD_findFrameCompressedSize(compressed, chunk->compressed_size);
    if (ZSTD_isError(frame_size) || frame_size != chunk->compressed_size) {
        snprintf(reason, reason_size, "the compressed bytes are not one zstd frame");
        return CHUNK_DAMAGED;
    }
    if (reserve_payload(reader, chunk) < 0) {
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

/* A part of the stream frame: it must use all its bytes and give exactly
 * the chunk's size, which a part that ends at a flush does. */
static enum chunk_status decompress_stream_part(struct capture_reader *reader,
                                                const uint8_t *compressed,
                                                const struct chunk_info *chunk, char *reason,
                                                size_t reason_size)
{
    if (chunk->kind == CHUNK_KIND_STREAM_START) {
        ZSTD_DCtx_reset(reader->stream_decompressor, ZSTD_reset_session_only);
    } else if (!reader->stream_open) {
        snprintf(reason, reason_size, "the chunk continues a zstd frame that no chunk began");
        return CHUNK_DAMAGED;
    }
    reader->stream_open = 0;
    if (reserve_payload(reader, chunk) < 0) {
        return CHUNK_FAILED;
    }
    ZSTD_inBuffer input = {compressed, chunk->compressed_size, 0};
    ZSTD_outBuffer output = {reader->payload.data, chunk->size, 0};
    uint8_t beyond;
    ZSTD_outBuffer past_end = {&beyond, 1, 0};
    for (;;) {
        size_t input_before = input.pos;
        size_t output_before = output.pos;
        /* Once the payload is full, one byte more would be too many. */
        ZSTD_outBuffer *target = output.pos < output.size ? &output : &past_end;
        size_t result = ZSTD_decompressStream(reader->stream_decompressor, target, &input);
        if (ZSTD_isError(result)) {
            snprintf(reason, reason_size, "zstd: %s", ZSTD_getErrorName(result));
            return CHUNK_DAMAGED;
        }
        if (past_end.pos) {
            snprintf(reason, reason_size, "decompresses to more than the %u bytes of its header",
                     chunk->size);
            return CHUNK_DAMAGED;
        }
        if (result == 0) {
            snprintf(reason, reason_size, "the chunk ends its zstd frame");
            return CHUNK_DAMAGED;
        }
        if (input.pos == input_before && output.pos == output_before) {
            break;
        }
    }
    if (input.pos != input.size || output.pos != chunk->size) {
        snprintf(reason, reason_size, "decompressed to %zu bytes, the chunk header says %u",
                 output.pos, chunk->size);
        return CHUNK_DAMAGED;
    }
    reader->payload.size = output.pos;
    reader->stream_open = 1;
    return CHUNK_OK;
}

/* Decompresses the chunk into reader->payload, which must come out exactly
 * chunk->size bytes long. Returns CHUNK_OK, CHUNK_DAMAGED with a reason, or
 * CHUNK_FAILED. */
static enum chunk_status chunk_decompress(struct capture_reader *reader, const uint8_t *compressed,
                                          const struct chunk_info *chunk, char *reason,
                                          size_t reason_size)
{
    if (capture_chunk_kind_is_stream_part(chunk->kind)) {
        return decompress_stream_part(reader, compressed, chunk, reason, reason_size);
    }
    return decompress_frame(reader, compressed, chunk, reason, reason_size);
}

static int chunk_kind_is_known(const struct capture_reader *reader, unsigned kind)
{
    if (capture_chunk_kind_is_stream_part((int)kind)) {
        return reader->header.format_version >= CAPTURE_STREAM_FORMAT_VERSION;
    }
    return capture_chunk_kind_is_events((int)kind) || kind == CHUNK_KIND_FOOTER ||
           kind == CHUNK_KIND_AGGREGATE;
}

enum chunk_status chunk_load(struct capture_reader *reader, uint64_t offset, uint64_t limit,
                             struct chunk_info *chunk, char *reason, size_t reason_size)
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
    if (!chunk_kind_is_known(reader, chunk->kind)) {
        snprintf(reason, reason_size, "unknown chunk kind %u (capture format version %u)",
                 chunk->kind, reader->header.format_version);
        return CHUNK_DAMAGED;
    }
    if (chunk->compressed_size > CAPTURE_MAX_CHUNK_SIZE || chunk->size > CAPTURE_MAX_CHUNK_SIZE) {
        snprintf(reason, reason_size, "chunk sizes %u/%u exceed the limit of %u bytes",
                 chunk->compressed_size, chunk->size, CAPTURE_MAX_CHUNK_SIZE);
        return CHUNK_DAMAGED;
    }
    /* Before any allocation: U sizes the payload buffer, and a chunk of
     * zeros compresses 64 MiB into a few kilobytes. */
    if (chunk->size > reader->header.max_chunk_size) {
        snprintf(reason, reason_size,
                 "chunk of %u bytes decompressed exceeds the capture's maximum of %llu",
                 chunk->size, (unsigned long long)reader->header.max_chunk_size);
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
