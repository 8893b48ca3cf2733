/* An --aggregate capture has no events, only its latest per-stack snapshot:
 * what each stack held at the peak, at the snapshot (the leaks view) and
 * allocated in total. It becomes one context per stack (no thread), so the
 * figures after it are built as for any capture. */
#include "core/analysis/capture_analysis_internal.h"

#include "core/format/aggregate_chunk.h"

/* An exact recorded amount as an estimate. */
static struct estimate exact_estimate(uint64_t bytes, uint64_t count)
{
    struct estimate estimate = {(double)bytes, (double)count, 0, (double)bytes};
    return estimate;
}

static struct estimate weighted_estimate(const struct weighted_amount *amount)
{
    struct estimate estimate = {amount->bytes, amount->count, amount->bytes_variance,
                                amount->observed_bytes};
    return estimate;
}

/* Fills the context of one aggregated stack. Returns 0 or -1 (no memory). */
static int take_stack(struct capture_analysis *analysis,
                      const struct capture_aggregate_stack *stack, int estimated)
{
    int64_t index = analysis_context_of(analysis, 0, stack->stack_id, 0);
    if (index < 0) {
        return -1;
    }
    struct analysis_context *context = &analysis_contexts(analysis)[index];
    if (estimated) {
        context->live = weighted_estimate(&stack->estimated_live);
        context->at_peak = weighted_estimate(&stack->estimated_peak);
        context->total = weighted_estimate(&stack->estimated_total);
    } else {
        context->live = exact_estimate(stack->live_bytes, stack->live_count);
        context->at_peak = exact_estimate(stack->peak_bytes, stack->peak_count);
        context->total = exact_estimate(stack->total_bytes, stack->total_count);
    }
    context->live_blocks = stack->live_count;
    context->changed_in_epoch = analysis->epoch; /* at_peak holds the peak */
    return 0;
}

int analysis_take_aggregate(struct capture_analysis *analysis,
                            const struct capture_aggregate *aggregate)
{
    /* A sampled recording whose snapshot carries no estimates keeps its
     * recorded figures. */
    if (analysis->estimates && !aggregate->estimated) {
        capture_estimates_free(analysis->estimates);
        analysis->estimates = NULL;
    }
    int estimated = analysis->estimates != NULL;
    for (size_t index = 0; index < aggregate->stack_count; index++) {
        if (take_stack(analysis, &aggregate->stacks[index], estimated) < 0) {
            return -1;
        }
    }
    struct analysis_summary *summary = &analysis->summary;
    summary->aggregated = 1;
    summary->free_count = aggregate->free_count;
    summary->peak_time_ns = aggregate->peak_time_ns;
    if (aggregate->time_ns > summary->end_time_ns) {
        summary->end_time_ns = aggregate->time_ns;
    }
    if (aggregate->time_ns > analysis->last_time_ns) {
        analysis->last_time_ns = aggregate->time_ns;
    }
    return 0;
}
