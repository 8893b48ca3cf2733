/*
 * Events chunks as parts of one zstd frame (CHUNK_KIND_STREAM_START and
 * _NEXT): a program's chunks repeat each other's stacks, sizes and address
 * patterns, which a frame of their own cannot refer back to.
 *
 * A frame lasts while its chunks come at one pace and up to a bound (so a
 * reader never needs more than that of the file behind a chunk). A quiet
 * program's chunks are small and take the dense level (about 80 MB/s
 * here, so at most 3% of a core below the busy size); a busy program's are
 * large and take the fast level, which keeps up with any recording rate.
 * A frame changes level only after a few chunks of the other size in a row
 * (or one far past the mark): one odd chunk would otherwise end the frame
 * twice, and each new frame starts without the history (about 7% of
 * black's capture for one busy chunk among 80).
 *
 * A capture's first frame, when its first chunk is small, has match tables
 * sized to that chunk and ends at a few times their reach: a short
 * program's whole recording would otherwise fault in the full tables
 * (1 MiB, most of what recording adds to an empty script's page faults).
 */
#include <errno.h>
#include <zstd.h>

#include "core/format/capture_format.h"
#include "core/format/capture_writer_internal.h"

#define STREAM_LEVEL_DENSE 7
#define STREAM_LEVEL_FAST 3
/* zstd's own window at these levels; kept explicit for the format's bound. */
#define STREAM_WINDOW_LOG 21
_Static_assert(STREAM_WINDOW_LOG <= CAPTURE_STREAM_WINDOW_LOG, "readers refuse larger windows");
/* The match tables: level 7's own (2^21 and 2^20 entries) would take 11 MB
 * of the profiled process for 0.7% of the captures of black. */
#define STREAM_TABLE_LOG 17
/* The first frame's smallest tables (zstd's minimum is 6), and how many
 * times their entries of payload it takes before a frame with full tables. */
#define STREAM_FIRST_TABLE_LOG_MIN 12
#define STREAM_FIRST_FRAME_REACH 4u
/* A chunk this large is written every 50 ms only at 2.5 MB/s or more. */
#define STREAM_BUSY_CHUNK_SIZE (128u * 1024u)
/* Chunks of the other size in a row that change the level, and the size
 * that changes it at once (level 7 takes ~12 ms a MB here). */
#define STREAM_LEVEL_CHANGE_CHUNKS 3u
#define STREAM_LEVEL_CHANGE_SIZE (8u * STREAM_BUSY_CHUNK_SIZE)
#define STREAM_FRAME_MAX_CHUNKS 128u
#define STREAM_FRAME_MAX_BYTES (16u * 1024u * 1024u)
/* Beyond ZSTD_compressBound: a flush ends the block it is in. */
#define STREAM_FLUSH_MARGIN 64u

void capture_event_stream_release(struct capture_event_stream *stream)
{
    ZSTD_freeCCtx(stream->compressor);
    stream->compressor = NULL;
    stream->frame_open = 0;
}

static int is_busy(size_t size)
{
    return size >= STREAM_BUSY_CHUNK_SIZE;
}

static uint64_t frame_max_bytes(const struct capture_event_stream *stream)
{
    if (stream->table_log < STREAM_TABLE_LOG) {
        return ((uint64_t)1 << stream->table_log) * STREAM_FIRST_FRAME_REACH;
    }
    return STREAM_FRAME_MAX_BYTES;
}

/* Whether the next chunk, of size bytes, is the one that changes the level. */
static int changes_level(const struct capture_event_stream *stream, size_t size)
{
    if (is_busy(size) == stream->busy) {
        return 0;
    }
    return stream->other_size_run + 1 >= STREAM_LEVEL_CHANGE_CHUNKS ||
           (!stream->busy && size >= STREAM_LEVEL_CHANGE_SIZE);
}

static int needs_new_frame(const struct capture_event_stream *stream, size_t size)
{
    return !stream->frame_open || changes_level(stream, size) ||
           stream->frame_chunks >= STREAM_FRAME_MAX_CHUNKS ||
           stream->frame_bytes + size > frame_max_bytes(stream);
}

/* The tables for a frame whose first chunk has size bytes. */
static unsigned table_log_for(const struct capture_event_stream *stream, size_t size)
{
    if (stream->frames_begun > 0) {
        return STREAM_TABLE_LOG;
    }
    unsigned log = STREAM_FIRST_TABLE_LOG_MIN;
    while (log < STREAM_TABLE_LOG && ((size_t)1 << log) < size) {
        log++;
    }
    return log;
}

/* Abandons the open frame, if any; returns 0 or an errno value. */
static int begin_frame(struct capture_event_stream *stream, size_t size)
{
    if (!stream->compressor) {
        stream->compressor = ZSTD_createCCtx();
        if (!stream->compressor) {
            return ENOMEM;
        }
    }
    stream->busy = is_busy(size);
    stream->table_log = table_log_for(stream, size);
    int level = stream->busy ? STREAM_LEVEL_FAST : STREAM_LEVEL_DENSE;
    if (ZSTD_isError(ZSTD_CCtx_reset(stream->compressor, ZSTD_reset_session_only)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(stream->compressor, ZSTD_c_compressionLevel,
                                            level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(stream->compressor, ZSTD_c_windowLog,
                                            STREAM_WINDOW_LOG)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(stream->compressor, ZSTD_c_hashLog,
                                            (int)stream->table_log)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(stream->compressor, ZSTD_c_chainLog,
                                            (int)stream->table_log))) {
        return EIO;
    }
    stream->frames_begun++;
    stream->other_size_run = 0;
    stream->frame_open = 1;
    stream->frame_chunks = 0;
    stream->frame_bytes = 0;
    return 0;
}

/* Compresses payload as the frame's next part, ending at a flush, into out.
 * Returns 0 or an errno value. */
static int compress_part(struct capture_event_stream *stream, struct byte_buffer *out,
                         const uint8_t *payload, size_t size)
{
    ZSTD_inBuffer input = {payload, size, 0};
    byte_buffer_clear(out);
    size_t step = ZSTD_compressBound(size) + STREAM_FLUSH_MARGIN;
    for (;;) {
        if (byte_buffer_reserve(out, step) < 0) {
            return ENOMEM;
        }
        ZSTD_outBuffer output = {out->data, out->capacity, out->size};
        size_t left = ZSTD_compressStream2(stream->compressor, &output, &input, ZSTD_e_flush);
        if (ZSTD_isError(left)) {
            return EIO;
        }
        out->size = output.pos;
        if (left == 0) {
            return 0;
        }
    }
}

int capture_writer_write_events(struct capture_writer *writer, const uint8_t *payload,
                                size_t size)
{
    if (capture_writer_check_payload(writer, size) < 0) {
        return -1;
    }
    struct capture_event_stream *stream = &writer->event_stream;
    int kind = CHUNK_KIND_STREAM_NEXT;
    if (needs_new_frame(stream, size)) {
        kind = CHUNK_KIND_STREAM_START;
        int error = begin_frame(stream, size);
        if (error) {
            writer->error_number = error;
            return -1;
        }
    }
    int error = compress_part(stream, &writer->compressed, payload, size);
    if (error) {
        stream->frame_open = 0;
        writer->error_number = error;
        return -1;
    }
    if (capture_writer_put_compressed(writer, kind, size, writer->compressed.data,
                                      writer->compressed.size) < 0) {
        /* The frame's history now holds a part the file does not. */
        stream->frame_open = 0;
        return -1;
    }
    stream->frame_chunks++;
    stream->frame_bytes += size;
    stream->other_size_run = is_busy(size) == stream->busy ? 0 : stream->other_size_run + 1;
    return 0;
}
