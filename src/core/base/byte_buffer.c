#include "core/base/byte_buffer.h"

#include <string.h>

#include "core/base/tracker_memory.h"

int byte_buffer_reserve(struct byte_buffer *buffer, size_t extra)
{
    if (buffer->capacity - buffer->size >= extra) {
        return 0;
    }
    size_t wanted = buffer->size + extra;
    if (wanted < buffer->size) {
        return -1;
    }
    size_t capacity = buffer->capacity ? buffer->capacity : 4096;
    while (capacity < wanted) {
        capacity *= 2;
    }
    uint8_t *grown = tracker_realloc(buffer->data, buffer->capacity, capacity);
    if (!grown) {
        return -1;
    }
    buffer->data = grown;
    buffer->capacity = capacity;
    return 0;
}

int byte_buffer_append(struct byte_buffer *buffer, const void *data, size_t size)
{
    if (byte_buffer_reserve(buffer, size) < 0) {
        return -1;
    }
    if (size) {
        memcpy(buffer->data + buffer->size, data, size);
    }
    buffer->size += size;
    return 0;
}

int byte_buffer_append_byte(struct byte_buffer *buffer, uint8_t byte)
{
    return byte_buffer_append(buffer, &byte, 1);
}

int byte_buffer_append_varint(struct byte_buffer *buffer, uint64_t value)
{
    if (byte_buffer_reserve(buffer, VARINT_MAX_SIZE) < 0) {
        return -1;
    }
    byte_buffer_put_varint_unchecked(buffer, value);
    return 0;
}

int byte_buffer_append_string(struct byte_buffer *buffer, const char *text, size_t size)
{
    if (byte_buffer_append_varint(buffer, size) < 0) {
        return -1;
    }
    return byte_buffer_append(buffer, text, size);
}

int byte_buffer_append_tlv_bytes(struct byte_buffer *buffer, uint64_t tag, const void *data,
                                 size_t size)
{
    if (byte_buffer_append_varint(buffer, tag) < 0) {
        return -1;
    }
    return byte_buffer_append_string(buffer, data, size);
}

int byte_buffer_append_tlv_varint(struct byte_buffer *buffer, uint64_t tag, uint64_t value)
{
    uint8_t encoded[VARINT_MAX_SIZE];
    size_t size = varint_encode(value, encoded);
    return byte_buffer_append_tlv_bytes(buffer, tag, encoded, size);
}

int byte_buffer_append_tlv_double(struct byte_buffer *buffer, uint64_t tag, double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    uint8_t encoded[8];
    for (int index = 0; index < 8; index++) {
        encoded[index] = (uint8_t)(bits >> (8 * index));
    }
    return byte_buffer_append_tlv_bytes(buffer, tag, encoded, sizeof encoded);
}

void byte_buffer_clear(struct byte_buffer *buffer)
{
    buffer->size = 0;
}

void byte_buffer_release(struct byte_buffer *buffer)
{
    tracker_free(buffer->data, buffer->capacity);
    buffer->data = NULL;
    buffer->size = 0;
    buffer->capacity = 0;
}
