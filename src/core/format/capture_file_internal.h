/*
 * INTERNAL to the capture reader's file level: what its files share. Not a
 * public header, not installed, and included only by:
 * - capture_file_blocks.c: byte views of the file, TLV fields, loading a chunk;
 * - capture_file_header.c: the file header;
 * - capture_file_footer.c: the footer and trailer;
 * - capture_file_reader.c: moving from chunk to chunk.
 * The rest of the reader reaches the file level through the file_reader_*
 * functions of capture_reader_internal.h.
 */
#ifndef MEMLYZE_CAPTURE_FILE_INTERNAL_H
#define MEMLYZE_CAPTURE_FILE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/format/capture_reader_internal.h"

/* --- little-endian integers ------------------------------------------------ */

/* Inline so that every file of the file level reads them without a call. */
static inline uint16_t read_u16(const uint8_t *bytes)
{
    return (uint16_t)(bytes[0] | bytes[1] << 8);
}

static inline uint32_t read_u32(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
           (uint32_t)bytes[3] << 24;
}

static inline uint64_t read_u64(const uint8_t *bytes)
{
    return (uint64_t)read_u32(bytes) | (uint64_t)read_u32(bytes + 4) << 32;
}

/* --- reading bytes of the file (capture_file_blocks.c) ------------------------ */

/*
 * Returns a view of size bytes at offset, which the caller has checked lie
 * inside the file. The view is valid until the next call. NULL (reader
 * failed) when pread fails, memory runs out or the file shrank.
 */
const uint8_t *reader_view(struct capture_reader *reader, uint64_t offset, size_t size);

/* --- TLV blocks (capture_file_blocks.c) --------------------------------------- */

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
int tlv_next(const uint8_t **cursor, const uint8_t *end, struct tlv_field *field, char *reason,
             size_t reason_size);

/* Reads a field holding exactly one varint. Returns 0 or -1 (reason set). */
int tlv_varint(const struct tlv_field *field, uint64_t *value, char *reason, size_t reason_size);

/* Reads a field holding one little-endian IEEE 754 double. Returns 0 or -1
 * (reason set). */
int tlv_double(const struct tlv_field *field, double *value, char *reason, size_t reason_size);

/* --- chunks (capture_file_blocks.c) ------------------------------------------- */

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

/*
 * Reads the chunk at offset, which must end by limit, checks its header and
 * CRC and decompresses it into reader->payload. Returns its status; a reason
 * in reason unless CHUNK_OK or CHUNK_FAILED; chunk->end is set whenever the
 * chunk header could be read.
 */
enum chunk_status chunk_load(struct capture_reader *reader, uint64_t offset, uint64_t limit,
                             struct chunk_info *chunk, char *reason, size_t reason_size);

/* --- the footer (capture_file_footer.c) --------------------------------------- */

/* Parses the footer chunk now in reader->payload, found at footer_offset.
 * Returns 0, or -1 with a reason (or the reader failed). */
int footer_parse(struct capture_reader *reader, uint64_t footer_offset, char *reason,
                 size_t reason_size);

#endif
