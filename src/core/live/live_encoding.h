/* Appending the live protocol's little-endian fields (live_protocol.h) to a
 * byte buffer. Each returns 0, or -1 when memory ran out. */
#ifndef MEMLYZE_LIVE_ENCODING_H
#define MEMLYZE_LIVE_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/byte_buffer.h"

int live_put_u16(struct byte_buffer *out, uint16_t value);
int live_put_u32(struct byte_buffer *out, uint32_t value);
int live_put_u64(struct byte_buffer *out, uint64_t value);
int live_put_string(struct byte_buffer *out, const char *text, size_t size);

/* Starts a frame of type: returns where its length goes (for live_frame_end). */
size_t live_frame_begin(struct byte_buffer *out, uint8_t type, int *failed);
/* Fills in the length of the frame begun at start. */
void live_frame_end(struct byte_buffer *out, size_t start);

#endif
