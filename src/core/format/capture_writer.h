/*
 * The bytes of a capture file: header, compressed chunks, footer, trailer
 * (capture_format.h). Knows nothing of events; the recorder hands it encoded
 * record payloads. Used by the writer thread only.
 */
#ifndef MEMLYZE_CAPTURE_WRITER_H
#define MEMLYZE_CAPTURE_WRITER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/byte_buffer.h"
#include "core/base/kept_descriptor.h"

/* The zstd frame events chunks are compressed into (CHUNK_KIND_STREAM_*):
 * a frame is kept while its chunks are of one pace, up to a bound. */
struct capture_event_stream {
    void *compressor;        /* ZSTD_CCtx, created with the first chunk */
    int frame_open;          /* 0: the next chunk begins a frame */
    int busy;                /* the frame's chunks are large (a busy program) */
    uint32_t frame_chunks;   /* chunks in the open frame */
    uint64_t frame_bytes;    /* their bytes before compression */
    uint32_t frames_begun;   /* in this capture */
    uint32_t other_size_run; /* chunks in a row not of the frame's size (busy or not) */
    unsigned table_log;      /* the open frame's match tables (log2 of their entries) */
};

struct capture_writer {
    int fd;
    uint64_t offset;               /* bytes written so far */
    void *compressor;              /* ZSTD_CCtx */
    struct byte_buffer compressed; /* scratch for one chunk */
    struct capture_event_stream event_stream;
    uint64_t *chunk_offsets;
    size_t chunk_count;
    size_t chunk_capacity;
    int error_number;              /* first write error (errno), 0 if none */
    /* The file fd was opened on: the program may close fd and reuse its
     * number, so every chunk checks fd still names this file first. */
    struct descriptor_identity identity;
    /* The capture's absolute path, to reopen it by when the program closed
     * fd; empty when it cannot be reopened (a file given by descriptor). */
    char path[PATH_MAX];
    /* The program closed the descriptor and the capture could not be
     * reopened: the capture stopped (error_number is EBADF). */
    int descriptor_lost;
    /* Nonzero after capture_writer_seal: the file ends with a footer and
     * trailer written from sealed_offset on (capture_writer_unseal takes
     * them away again). */
    int sealed;
    uint64_t sealed_offset;
};

/*
 * Creates path (failing if it exists unless overwrite) and writes the file
 * header with the given TLV payload. Returns 0, or -1 with a one-line reason
 * in error; nothing is left on disk on failure.
 */
int capture_writer_open(struct capture_writer *writer, const char *path, int overwrite,
                        const struct byte_buffer *header_payload, char *error,
                        size_t error_size);
/*
 * Takes over descriptor, an open and empty file the caller created (for
 * files whose name and flags the caller chooses, such as a temporary file),
 * and writes the file header. Returns 0, or -1 with error_number set and the
 * descriptor closed; the caller removes the file.
 */
int capture_writer_begin(struct capture_writer *writer, int descriptor,
                         const struct byte_buffer *header_payload);
/* Compresses payload into one chunk of the given kind and writes it.
 * Returns 0, or -1 after recording the failure in error_number. Writes
 * nothing through a descriptor the program closed or reused: reopens the
 * capture by its path (when the file there is still the capture, as
 * written so far) or stops the capture, with a line on stderr either way. */
int capture_writer_write_chunk(struct capture_writer *writer, int kind,
                               const uint8_t *payload, size_t size);
/* Compresses an events payload into the next part of the writer's zstd
 * stream and writes it as a CHUNK_KIND_STREAM_* chunk (each one readable
 * once written, as the chunks of capture_writer_write_chunk). Returns 0 or
 * -1 like capture_writer_write_chunk. */
int capture_writer_write_events(struct capture_writer *writer, const uint8_t *payload,
                                size_t size);
/* Writes the footer chunk (the caller's TLVs plus the chunk index) and the
 * trailer, then closes the file; a sealed file is closed as it is (the
 * payload is not used). Returns 0 or -1 (see error_number). */
int capture_writer_finish(struct capture_writer *writer, struct byte_buffer *footer_payload);
/* Writes the footer chunk and the trailer like capture_writer_finish but
 * keeps the file open: the capture reads complete from now on, as when the
 * process dies here. Returns 0 or -1 (see error_number). */
int capture_writer_seal(struct capture_writer *writer, struct byte_buffer *footer_payload);
/* Takes a sealed capture's footer and trailer away again (truncates the file
 * to where they began; only through the capture's own descriptor), so that
 * chunks follow as before. Returns 0 or -1 (see error_number). */
int capture_writer_unseal(struct capture_writer *writer);
/* Closes the file after the last chunk without footer or trailer, so that readers take
 * the file as not closed (truncated). Returns 0, or -1 when a write or the
 * close failed (see error_number). */
int capture_writer_close_unfinished(struct capture_writer *writer);
/* Closes without a footer (used in a forked child and on fatal errors). */
void capture_writer_abandon(struct capture_writer *writer);
/* Closes the descriptor alone, and only if it still names the capture (else
 * the number is the program's): for a forked child, whose inherited writer
 * belongs to the parent. Returns close's result (0 when nothing closed). */
int capture_writer_close_descriptor(struct capture_writer *writer);

#endif
