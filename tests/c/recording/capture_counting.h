/* Reading back a capture in the recording tests: its allocations, and
 * whether it is complete. */
#ifndef MEMLYZE_TEST_CAPTURE_COUNTING_H
#define MEMLYZE_TEST_CAPTURE_COUNTING_H

#include <stdint.h>

#include "core/format/capture_reader.h"

/* The number of allocation records in the capture at path, or -1 when it
 * cannot be read; *complete is set when it ends with its footer. */
static inline int64_t count_capture_allocations(const char *path, int *complete)
{
    struct capture_error error;
    struct capture_reader *reader = capture_reader_open(path, &error);
    *complete = 0;
    if (!reader) {
        return -1;
    }
    int64_t count = 0;
    struct capture_record record;
    int status;
    while ((status = capture_reader_next(reader, &record)) == 1) {
        count += record.kind == CAPTURE_RECORD_ALLOCATION;
    }
    *complete = status == 0 && !capture_reader_truncated(reader);
    capture_reader_close(reader);
    return status == 0 ? count : -1;
}

#endif
