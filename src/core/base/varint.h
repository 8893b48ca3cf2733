/*
 * LEB128 varints and zigzag deltas, the integer encoding of capture files.
 * Encoders write into caller-provided space of at least VARINT_MAX_SIZE bytes.
 */
#ifndef MEMLYZE_VARINT_H
#define MEMLYZE_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define VARINT_MAX_SIZE 10

/* Writes value as unsigned LEB128 at out; returns the bytes written (1..10). */
static inline size_t varint_encode(uint64_t value, uint8_t *out)
{
    size_t written = 0;
    while (value >= 0x80) {
        out[written++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[written++] = (uint8_t)value;
    return written;
}

/*
 * Reads one varint from [*cursor, end). On success stores it in *value,
 * advances *cursor and returns 0. Returns -1, leaving *cursor alone, when the
 * input ends inside the varint or the varint is longer than 64 bits.
 */
static inline int varint_decode(const uint8_t **cursor, const uint8_t *end, uint64_t *value)
{
    const uint8_t *position = *cursor;
    if (position < end && *position < 0x80) { /* most varints are one byte */
        *value = *position;
        *cursor = position + 1;
        return 0;
    }
    uint64_t result = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (position >= end) {
            return -1;
        }
        uint8_t byte = *position++;
        if (shift == 63 && byte > 1) {
            return -1;
        }
        result |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *value = result;
            *cursor = position;
            return 0;
        }
    }
    return -1;
}

/* Maps signed to unsigned so that small magnitudes get small codes. */
static inline uint64_t zigzag_encode(int64_t value)
{
    return ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
}

static inline int64_t zigzag_decode(uint64_t value)
{
    return (int64_t)(value >> 1) ^ -(int64_t)(value & 1);
}

#endif
