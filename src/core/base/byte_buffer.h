/* A growable array of bytes on the tracker heap, for encoding records. */
#ifndef MEMLYZE_BYTE_BUFFER_H
#define MEMLYZE_BYTE_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/varint.h"

struct byte_buffer {
    uint8_t *data;
    size_t size;
    size_t capacity;
};

/* Makes room for extra more bytes; returns 0, or -1 when memory ran out. */
int byte_buffer_reserve(struct byte_buffer *buffer, size_t extra);
/* Appends; each returns 0 or -1 (out of memory, buffer unchanged). */
int byte_buffer_append(struct byte_buffer *buffer, const void *data, size_t size);
int byte_buffer_append_byte(struct byte_buffer *buffer, uint8_t byte);
int byte_buffer_append_varint(struct byte_buffer *buffer, uint64_t value);
/* Appends a length varint then the bytes. */
int byte_buffer_append_string(struct byte_buffer *buffer, const char *text, size_t size);
/* Appends one TLV field whose value is a varint, a string or a double. */
int byte_buffer_append_tlv_varint(struct byte_buffer *buffer, uint64_t tag, uint64_t value);
int byte_buffer_append_tlv_bytes(struct byte_buffer *buffer, uint64_t tag, const void *data,
                                 size_t size);
int byte_buffer_append_tlv_double(struct byte_buffer *buffer, uint64_t tag, double value);
void byte_buffer_clear(struct byte_buffer *buffer);
/* Frees the storage; the buffer is empty and reusable afterwards. */
void byte_buffer_release(struct byte_buffer *buffer);

/* Fast path for hot encoders: caller reserved VARINT_MAX_SIZE first. */
static inline void byte_buffer_put_varint_unchecked(struct byte_buffer *buffer, uint64_t value)
{
    buffer->size += varint_encode(value, buffer->data + buffer->size);
}

#endif
