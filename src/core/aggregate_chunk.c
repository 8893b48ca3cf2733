#include "aggregate_chunk.h"

#include <stdio.h>
#include <string.h>

#include "tracker_memory.h"
#include "varint.h"

#define AGGREGATE_STACK_FIELDS 7
#define AGGREGATE_FIGURES 10

/* Reads count varints into values; returns 0 or -1 (the payload ended). */
static int take_varints(const uint8_t **cursor, const uint8_t *end, uint64_t *values,
                        size_t count)
{
    for (size_t index = 0; index < count; index++) {
        if (varint_decode(cursor, end, &values[index]) != 0) {
            return -1;
        }
    }
    return 0;
}

static int decode_stacks(const uint8_t **cursor, const uint8_t *end, uint32_t stack_limit,
                         struct capture_aggregate *aggregate, char *reason, size_t reason_size)
{
    for (size_t index = 0; index < aggregate->stack_count; index++) {
        uint64_t fields[AGGREGATE_STACK_FIELDS];
        if (take_varints(cursor, end, fields, AGGREGATE_STACK_FIELDS) < 0) {
            snprintf(reason, reason_size, "aggregate stack %zu is cut short", index);
            return -1;
        }
        if (fields[0] > stack_limit) {
            snprintf(reason, reason_size, "aggregate stack %zu names undefined stack %llu",
                     index, (unsigned long long)fields[0]);
            return -1;
        }
        struct capture_aggregate_stack *stack = &aggregate->stacks[index];
        stack->stack_id = (uint32_t)fields[0];
        stack->live_bytes = fields[1];
        stack->live_count = fields[2];
        stack->peak_bytes = fields[3];
        stack->peak_count = fields[4];
        stack->total_bytes = fields[5];
        stack->total_count = fields[6];
    }
    if (*cursor != end) {
        snprintf(reason, reason_size, "%zu stray bytes after the aggregate stacks",
                 (size_t)(end - *cursor));
        return -1;
    }
    return 0;
}

int aggregate_chunk_decode(const uint8_t *data, size_t size, uint32_t stack_limit,
                           struct capture_aggregate *aggregate, char *reason,
                           size_t reason_size)
{
    memset(aggregate, 0, sizeof *aggregate);
    const uint8_t *cursor = data;
    const uint8_t *end = data + size;
    uint64_t fields[AGGREGATE_FIGURES];
    if (take_varints(&cursor, end, fields, AGGREGATE_FIGURES) < 0) {
        snprintf(reason, reason_size, "the aggregate figures are cut short");
        return -1;
    }
    /* every stack takes at least AGGREGATE_STACK_FIELDS bytes */
    if (fields[9] > (uint64_t)(end - cursor) / AGGREGATE_STACK_FIELDS) {
        snprintf(reason, reason_size, "%llu aggregate stacks cannot fit in %zu bytes",
                 (unsigned long long)fields[9], (size_t)(end - cursor));
        return -1;
    }
    aggregate->time_ns = fields[0];
    aggregate->current_bytes = fields[1];
    aggregate->current_count = fields[2];
    aggregate->peak_bytes = fields[3];
    aggregate->peak_count = fields[4];
    aggregate->peak_time_ns = fields[5];
    aggregate->allocation_count = fields[6];
    aggregate->allocated_bytes = fields[7];
    aggregate->free_count = fields[8];
    aggregate->stack_count = (size_t)fields[9];
    aggregate->stacks = tracker_calloc(aggregate->stack_count ? aggregate->stack_count : 1,
                                       sizeof *aggregate->stacks);
    if (!aggregate->stacks) {
        aggregate->stack_count = 0;
        return -2;
    }
    if (decode_stacks(&cursor, end, stack_limit, aggregate, reason, reason_size) < 0) {
        aggregate_chunk_release(aggregate);
        return -1;
    }
    return 0;
}

void aggregate_chunk_release(struct capture_aggregate *aggregate)
{
    size_t count = aggregate->stack_count ? aggregate->stack_count : 1;
    if (aggregate->stacks) {
        tracker_free(aggregate->stacks, count * sizeof *aggregate->stacks);
    }
    memset(aggregate, 0, sizeof *aggregate);
}
