/*
 * INTERNAL to the capture reader: not a public header, not installed, and
 * included only by the reader's own files:
 * - capture_reader.c: the public API (capture_reader.h) and error helpers;
 * - the file level: capture_file_header.c (the header), capture_file_footer.c
 *   (footer and trailer), capture_file_reader.c (chunk to chunk) and
 *   capture_file_blocks.c (byte views, TLV fields, loading a chunk), which
 *   share capture_file_internal.h besides;
 * - capture_record_decoder.c: the records inside a chunk.
 * Other files use capture_reader.h.
 */
#ifndef MEMLYZE_CAPTURE_READER_INTERNAL_H
#define MEMLYZE_CAPTURE_READER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "core/format/address_history.h"
#include "core/format/aggregate_chunk.h"
#include "core/base/byte_buffer.h"
#include "core/format/capture_reader.h"
#include "core/base/hash_map.h"

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

    ZSTD_DCtx *decompressor;        /* chunks that are one zstd frame */
    ZSTD_DCtx *stream_decompressor; /* the zstd frame of CHUNK_KIND_STREAM_* */
    int stream_open;                /* the previous chunk left that frame readable */
    struct byte_buffer payload; /* the current chunk, decompressed */
    const uint8_t *cursor;      /* next record in payload */
    const uint8_t *payload_end;
    const uint8_t *record_start;
    uint64_t current_thread;
    /* Per chunk (address_history.h): each thread's address state, and per
     * state every allocation's address by its place among the state's
     * allocations (recent_capacity entries each, tracker heap, made when a
     * state first allocates). A version 1 capture has one shared state. */
    uint32_t recent_capacity;
    uint32_t state_index;                 /* current_thread's */
    struct address_state *address_state; /* &address_states[state_index] */
    struct address_state_threads address_threads;
    struct address_state address_states[ADDRESS_STATES];
    uint64_t *recent_allocations[ADDRESS_STATES];
    uint64_t allocated_bytes; /* sum of every allocation's size read so far */

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
    uint64_t table_budget; /* bytes the tables above may take (capture_format.h) */

    struct capture_aggregate aggregate; /* the latest aggregate chunk read */
    int has_aggregate;

    enum reader_state state;
    int truncated;
    char truncation_note[CAPTURE_ERROR_MESSAGE_SIZE];
    struct capture_error error;
};

/* --- errors (capture_reader.c) ------------------------------------------------ */

/* Records the first failure and stops the reader; always returns -1. */
int reader_fail(struct capture_reader *reader, int os_errno, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* reader_fail with ENOMEM and "out of memory"; returns -1. */
int reader_out_of_memory(struct capture_reader *reader);

/* Why the varint at [cursor, end) failed to decode. */
const char *reader_varint_problem(const uint8_t *cursor, const uint8_t *end);

/* --- the file level ------------------------------------------------------------ */

/* Checks and parses the file header (capture_file_header.c). Returns 0, or
 * -1 with the reader failed. */
int file_reader_read_header(struct capture_reader *reader);

/* Finds and checks the trailer and footer, or marks the file truncated
 * (capture_file_footer.c). Returns 0, or -1 with the reader failed. */
int file_reader_read_trailer(struct capture_reader *reader);

/* Loads the next events chunk, or ends the records (capture_file_reader.c).
 * Returns 0 (loaded or finished) or -1 with the reader failed. */
int file_reader_load_next_chunk(struct capture_reader *reader);

/* --- records (capture_record_decoder.c) --------------------------------------- */

/* Decodes the record at the cursor. Returns 1 for an event (in *record), 0
 * for a definition, -1 with the reader failed. */
int record_decoder_decode(struct capture_reader *reader, struct capture_record *record);

#endif
