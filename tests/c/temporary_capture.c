#include "tests/c/temporary_capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/c/test_harness.h"

void temporary_capture_begin(struct capture_writer *writer, char *path)
{
    snprintf(path, TEMPORARY_CAPTURE_PATH_SIZE, "/tmp/memlyze-capture-XXXXXX");
    int descriptor = mkstemp(path);
    CHECK(descriptor >= 0);
    struct byte_buffer header = {0};
    CHECK(capture_writer_begin(writer, descriptor, &header) == 0);
}

struct capture_reader *temporary_capture_finish(struct capture_writer *writer, const char *path)
{
    struct byte_buffer footer = {0};
    CHECK(capture_writer_finish(writer, &footer) == 0);
    byte_buffer_release(&footer);
    struct capture_error error;
    struct capture_reader *reader = capture_reader_open(path, &error);
    if (!reader) {
        fprintf(stderr, "cannot read %s: %s\n", path, error.message);
    }
    CHECK(reader != NULL);
    return reader;
}
