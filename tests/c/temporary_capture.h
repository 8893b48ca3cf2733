/* A capture the real writer makes in a temporary file, for tests that read
 * back what the writer (and the recorder's encoder) wrote. */
#ifndef MEMLYZE_TESTS_TEMPORARY_CAPTURE_H
#define MEMLYZE_TESTS_TEMPORARY_CAPTURE_H

#include "core/format/capture_reader.h"
#include "core/format/capture_writer.h"

#define TEMPORARY_CAPTURE_PATH_SIZE 32

/* Begins writer on a new temporary file with an empty header payload; its
 * name goes to path. A failure fails the test. */
void temporary_capture_begin(struct capture_writer *writer, char *path);

/* Finishes writer (empty footer payload) and opens the file for reading:
 * the reader, or NULL with the test failed. */
struct capture_reader *temporary_capture_finish(struct capture_writer *writer, const char *path);

#endif
