#include "core/format/aggregate_chunk.h"

#include <stdio.h>
#include <string.h>

#include "core/format/capture_format.h"
#include "core/base/tracker_memory.h"
#include "core/base/varint.h"

#define AGGREGATE_STACK_FIELDS 7
#define AGGREGATE_FIGURES 10
#define WEIGHTED_SIZE 32 /* four doubles */

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
    return 0;
}

/* Reads four little-endian doubles into *amount (the caller checked room). */
static void take_weighted(const uint8_t **cursor, struct weighted_amount *amount)
{
    double values[4];
    for (int field = 0; field < 4; field++) {
        uint64_t bits = 0;
        for (int index = 0; index < 8; index++) {
            bits |= (uint64_t)(*cursor)[index] << (8 * index);
        }
        memcpy(&values[field], &bits, sizeof bits);
        *cursor += 8;
    }
    amount->bytes = values[0];
    amount->count = values[1];
    amount->bytes_variance = values[2];
    amount->observed_bytes = values[3];
}

/* Reads the estimates section (its tag already taken). Returns 0 or -1. */
static int decode_estimates(const uint8_t **cursor, const uint8_t *end,
                            struct capture_aggregate *aggregate, char *reason,
                            size_t reason_size)
{
    size_t wanted = (3 + 3 * aggregate->stack_count) * WEIGHTED_SIZE;
    if ((size_t)(end - *cursor) < wanted) {
        snprintf(reason, reason_size, "the aggregate estimates are cut short");
        return -1;
    }
    take_weighted(cursor, &aggregate->estimated_allocated);
    take_weighted(cursor, &aggregate->estimated_peak);
    take_weighted(cursor, &aggregate->estimated_live);
    for (size_t index = 0; index < aggregate->stack_count; index++) {
        struct capture_aggregate_stack *stack = &aggregate->stacks[index];
        take_weighted(cursor, &stack->estimated_live);
        take_weighted(cursor, &stack->estimated_peak);
        take_weighted(cursor, &stack->estimated_total);
    }
    aggregate->estimated = 1;
    return 0;
}

/* Reads the optional sections after the stacks (capture_format.h). */
static int decode_sections(const uint8_t **cursor, const uint8_t *end,
                           struct capture_aggregate *aggregate, char *reason,
                           size_t reason_size)
{
    while (*cursor != end) {
        uint64_t section;
        if (varint_decode(cursor, end, &section) != 0) {
            snprintf(reason, reason_size, "an aggregate section tag is cut short");
            return -1;
        }
        if (section != AGGREGATE_SECTION_ESTIMATES || aggregate->estimated) {
            snprintf(reason, reason_size, "unknown or repeated aggregate section %llu",
                     (unsigned long long)section);
            return -1;
        }
        if (decode_estimates(cursor, end, aggregate, reason, reason_size) < 0) {
            return -1;
        }
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
    /* The writer lists each stack once (ids 0 to stack_limit): a larger
     * count is damage, refused before it sizes the allocation below. */
    if (fields[9] > (uint64_t)stack_limit + 1) {
        snprintf(reason, reason_size, "%llu aggregate stacks, but only %llu stack ids exist",
                 (unsigned long long)fields[9], (unsigned long long)stack_limit + 1);
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
    if (decode_stacks(&cursor, end, stack_limit, aggregate, reason, reason_size) < 0 ||
        decode_sections(&cursor, end, aggregate, reason, reason_size) < 0) {
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
