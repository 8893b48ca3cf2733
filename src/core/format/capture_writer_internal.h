/*
 * What the capture writer's files share (capture_writer.c writes chunks,
 * capture_event_stream.c compresses events chunks into them).
 */
#ifndef MEMLYZE_CAPTURE_WRITER_INTERNAL_H
#define MEMLYZE_CAPTURE_WRITER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/format/capture_writer.h"

/* Refuses a payload larger than readers accept (EFBIG) or a writer that has
 * failed already. Returns 0, or -1 with error_number set. */
int capture_writer_check_payload(struct capture_writer *writer, size_t size);

/* Writes one chunk of the given kind whose C bytes are already compressed
 * (size: the payload's size before compression). Returns 0, or -1 after
 * recording the failure in error_number (EFBIG when the compressed bytes
 * are more than a reader accepts); a partly written chunk is cut off the
 * file again. */
int capture_writer_put_compressed(struct capture_writer *writer, int kind, size_t size,
                                  const uint8_t *compressed, size_t compressed_size);

/* Frees the stream's compressor. */
void capture_event_stream_release(struct capture_event_stream *stream);

#endif
