/* Hand-built captures and checks the capture reader's tests share
 * (capture_reader_fixture.c), used by test_capture_reader_decoding.c,
 * test_capture_reader_damage.c and test_capture_reader_truncation.c. */
#ifndef MEMLYZE_TESTS_CAPTURE_READER_FIXTURE_H
#define MEMLYZE_TESTS_CAPTURE_READER_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "core/format/capture_reader.h"
#include "tests/c/capture_builder.h"

/* Builds a capture of two events chunks; offsets of the chunks and footer
 * go to offsets[0..2] when offsets is not NULL. Its events, in order:
 * malloc 0x1000 (100 bytes, stack 1), calloc 0x800 (50, stack 2), time 5000
 * in the first chunk; free 0x1000, munmap, pymalloc free, rss, gc and a
 * snapshot in the second. */
void build_standard(struct capture_builder *builder, uint64_t *offsets);

/* Reads every record; returns the final status of capture_reader_next and
 * the number of events in *count. */
int read_all(struct capture_reader *reader, size_t *count);

/* Checks that opening or reading data fails with a message containing
 * expected; line is the caller's, for the failure message. */
void check_damaged(const void *data, size_t size, const char *expected, int line);
#define CHECK_DAMAGED(data, size, expected) check_damaged(data, size, expected, __LINE__)

/* Opens the first size bytes of data, which must read as truncated; returns
 * the number of events read. */
size_t read_truncated(const uint8_t *data, size_t size);

/* Starts a closed capture whose only chunk holds the records the caller
 * appends to builder after build_prefix(): string 1 "f", frame 1, stack 1. */
void build_prefix(struct capture_builder *builder);

/* Flushes the chunk, closes the capture and checks it fails with expected;
 * releases builder. */
void close_and_check(struct capture_builder *builder, const char *expected, int line);
#define CLOSE_AND_CHECK(builder, expected) close_and_check(builder, expected, __LINE__)

#endif
