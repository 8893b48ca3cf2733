#include "fuzz/fuzz_inputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/tracker_memory.h"
#include "core/format/capture_format.h"

#define RECORDS_CHUNK_MARK "MLYC"
#define RECORDS_CHUNK_MARK_SIZE 4

/* Wraps records (an "R" input past its two first bytes) in a capture. */
static void wrap_records(struct capture_builder *builder, const uint8_t *records, size_t size,
                         int closed)
{
    builder_init(builder);
    builder_default_header(builder, HEADER_FLAG_TRACK_GC);
    const uint8_t *end = records + size;
    while (records < end) {
        const uint8_t *mark = memmem(records, (size_t)(end - records), RECORDS_CHUNK_MARK,
                                     RECORDS_CHUNK_MARK_SIZE);
        const uint8_t *chunk_end = mark ? mark : end;
        builder_raw(builder, records, (size_t)(chunk_end - records));
        builder_flush_chunk(builder);
        records = mark ? mark + RECORDS_CHUNK_MARK_SIZE : end;
    }
    if (closed) {
        builder_finish(builder, 1000000, 4096);
    }
}

int fuzz_input_capture(const uint8_t *data, size_t size, struct capture_builder *builder)
{
    if (size < 2 || data[0] != 'R') {
        return 0;
    }
    wrap_records(builder, data + 2, size - 2, !(data[1] & 1));
    return 1;
}

void fuzz_check_tracker_memory(uint64_t before, const char *when)
{
    uint64_t now = tracker_memory_current();
    if (now != before) {
        fprintf(stderr, "tracker memory leaked %s: %lld bytes\n", when,
                (long long)(now - before));
        abort();
    }
}
