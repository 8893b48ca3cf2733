#include "core/live/live_encoding.h"

#include <string.h>

static int put_little_endian(struct byte_buffer *out, uint64_t value, size_t width)
{
    uint8_t bytes[8];
    for (size_t index = 0; index < width; index++) {
        bytes[index] = (uint8_t)(value >> (8 * index));
    }
    return byte_buffer_append(out, bytes, width);
}

int live_put_u16(struct byte_buffer *out, uint16_t value)
{
    return put_little_endian(out, value, 2);
}

int live_put_u32(struct byte_buffer *out, uint32_t value)
{
    return put_little_endian(out, value, 4);
}

int live_put_u64(struct byte_buffer *out, uint64_t value)
{
    return put_little_endian(out, value, 8);
}

int live_put_string(struct byte_buffer *out, const char *text, size_t size)
{
    if (size > UINT32_MAX) {
        size = UINT32_MAX;
    }
    return live_put_u32(out, (uint32_t)size) || byte_buffer_append(out, text, size) ? -1 : 0;
}

size_t live_frame_begin(struct byte_buffer *out, uint8_t type, int *failed)
{
    size_t start = out->size;
    if (live_put_u32(out, 0) < 0 || byte_buffer_append_byte(out, type) < 0) {
        *failed = 1;
    }
    return start;
}

void live_frame_end(struct byte_buffer *out, size_t start)
{
    if (out->size < start + 5) {
        return; /* the frame's beginning failed */
    }
    uint64_t length = out->size - start - 4;
    for (size_t index = 0; index < 4; index++) {
        out->data[start + index] = (uint8_t)(length >> (8 * index));
    }
}
