/*
 * The payload of a CHUNK_KIND_AGGREGATE chunk (capture_format.h), decoded:
 * what --aggregate captures hold instead of events.
 */
#ifndef MEMLYZE_AGGREGATE_CHUNK_H
#define MEMLYZE_AGGREGATE_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/weighted_amount.h"

struct capture_aggregate_stack {
    uint32_t stack_id;
    uint64_t live_bytes; /* at the snapshot */
    uint64_t live_count;
    uint64_t peak_bytes; /* when the heap was at its peak */
    uint64_t peak_count;
    uint64_t total_bytes; /* allocated over the recording */
    uint64_t total_count;
    /* Estimates of the whole (when the capture's aggregate has them) */
    struct weighted_amount estimated_live;
    struct weighted_amount estimated_peak;
    struct weighted_amount estimated_total;
};

struct capture_aggregate {
    uint64_t time_ns;
    uint64_t current_bytes;
    uint64_t current_count;
    uint64_t peak_bytes;
    uint64_t peak_count;
    uint64_t peak_time_ns; /* when the peak was reached, to the writer's round */
    uint64_t allocation_count;
    uint64_t allocated_bytes;
    uint64_t free_count;
    size_t stack_count;
    struct capture_aggregate_stack *stacks; /* tracker heap */
    /* AGGREGATE_SECTION_ESTIMATES was present (sampled recordings): these and
     * each stack's estimated_* hold estimates of the whole program. */
    int estimated;
    struct weighted_amount estimated_allocated;
    struct weighted_amount estimated_peak;
    struct weighted_amount estimated_live;
};

/*
 * Decodes size bytes at data into *aggregate (which the caller releases with
 * aggregate_chunk_release). Stack ids must be at most stack_limit. Returns 0;
 * -1 with a reason when the payload is damaged; -2 when memory ran out.
 */
int aggregate_chunk_decode(const uint8_t *data, size_t size, uint32_t stack_limit,
                           struct capture_aggregate *aggregate, char *reason,
                           size_t reason_size);
void aggregate_chunk_release(struct capture_aggregate *aggregate);

#endif
