/* After the pass: each context's figures rounded once, and every coarser
 * figure (a stack's, the summary's) summed from those same rounded figures,
 * so that a report adding up contexts and `stats` agree to the byte. Also
 * the accessors of what the pass produced. */
#include "core/analysis/capture_analysis_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/tracker_memory.h"

static struct analysis_figures rounded(const struct estimate *estimate)
{
    struct analysis_figures figures = {analysis_rounded(estimate->bytes),
                                       analysis_rounded(estimate->count)};
    return figures;
}

static void figures_add(struct analysis_figures *into, const struct analysis_figures *part)
{
    into->bytes += part->bytes;
    into->count += part->count;
}

static struct analysis_context_view view_of(const struct capture_analysis *analysis,
                                            const struct analysis_context *context)
{
    struct analysis_context_view view = {context->thread_id, context->stack_id,
                                         context->native_stack_id, {{0, 0}}};
    view.selected[ANALYSIS_SELECT_PEAK] = rounded(analysis_context_at_peak(analysis, context));
    view.selected[ANALYSIS_SELECT_LEAKS] = rounded(&context->live);
    view.selected[ANALYSIS_SELECT_TEMPORARY] = rounded(&context->temporary);
    view.selected[ANALYSIS_SELECT_SNAPSHOT] = rounded(&context->at_snapshot);
    view.selected[ANALYSIS_SELECT_RANGE] = rounded(&context->in_range);
    view.selected[ANALYSIS_SELECT_TOTAL] = rounded(&context->total);
    return view;
}

/* Makes room for stack ids up to stack_id. Returns 0 or -1 (no memory). */
static int stacks_reserve(struct capture_analysis *analysis, uint32_t stack_id)
{
    if (stack_id < analysis->stack_capacity) {
        return 0;
    }
    size_t capacity = analysis->stack_capacity ? analysis->stack_capacity * 2 : 1024;
    while (capacity <= stack_id) {
        capacity *= 2;
    }
    size_t extra = (capacity - analysis->stack_capacity) * sizeof(struct stack_state);
    if (byte_buffer_reserve(&analysis->stacks, extra) < 0) {
        return -1;
    }
    memset(analysis->stacks.data + analysis->stacks.size, 0, extra);
    analysis->stacks.size += extra;
    analysis->stack_capacity = capacity;
    return 0;
}

/* Adds a context's figures to its stack's. */
static void stack_add(struct capture_analysis *analysis, const struct analysis_context *context,
                      const struct analysis_context_view *view)
{
    struct stack_state *state = &analysis_stack_states(analysis)[context->stack_id];
    state->used = 1;
    figures_add(&state->at_peak, &view->selected[ANALYSIS_SELECT_PEAK]);
    figures_add(&state->total, &view->selected[ANALYSIS_SELECT_TOTAL]);
    figures_add(&state->leaked, &view->selected[ANALYSIS_SELECT_LEAKS]);
    analysis_estimate_add(&state->estimated_at_peak, analysis_context_at_peak(analysis, context), 1);
    analysis_estimate_add(&state->estimated_total, &context->total, 1);
    analysis_estimate_add(&state->estimated_leaked, &context->live, 1);
    if (context->native_stack_id && context->largest_size >= state->native_largest_size) {
        state->native_largest_size = context->largest_size;
        state->native_stack_id = context->native_stack_id;
    }
}

/* The summary's heap figures: sums of the contexts'. */
static void summary_add(struct capture_analysis *analysis, const struct analysis_context *context,
                        const struct analysis_context_view *view)
{
    struct analysis_summary *summary = &analysis->summary;
    summary->peak_bytes += view->selected[ANALYSIS_SELECT_PEAK].bytes;
    summary->peak_count += view->selected[ANALYSIS_SELECT_PEAK].count;
    summary->leaked_bytes += view->selected[ANALYSIS_SELECT_LEAKS].bytes;
    summary->leaked_count += view->selected[ANALYSIS_SELECT_LEAKS].count;
    summary->allocated_bytes += view->selected[ANALYSIS_SELECT_TOTAL].bytes;
    summary->allocation_count += view->selected[ANALYSIS_SELECT_TOTAL].count;
    analysis_estimate_add(&summary->estimated_at_peak, analysis_context_at_peak(analysis, context),
                          1);
    analysis_estimate_add(&summary->estimated_leaked, &context->live, 1);
    analysis_estimate_add(&summary->estimated_allocated, &context->total, 1);
}

/* The allocator mix and size histogram (estimates in a sampled capture). */
static void summary_mix(struct capture_analysis *analysis)
{
    struct analysis_summary *summary = &analysis->summary;
    summary->sampled = analysis->estimates != NULL;
    if (summary->aggregated) {
        return; /* no events: no mix */
    }
    for (int allocator = 0; allocator < ALLOCATOR_COUNT; allocator++) {
        summary->allocators[allocator].count =
            analysis_rounded(analysis->allocator_amounts[allocator].count);
        summary->allocators[allocator].bytes =
            analysis_rounded(analysis->allocator_amounts[allocator].bytes);
    }
    for (int bucket = 0; bucket < ANALYSIS_HISTOGRAM_BUCKETS; bucket++) {
        summary->histogram[bucket] = analysis_rounded(analysis->histogram[bucket]);
    }
}

int analysis_views_build(struct capture_analysis *analysis)
{
    size_t count = analysis_context_count(analysis);
    const struct analysis_context *contexts = analysis_contexts(analysis);
    if (count && byte_buffer_reserve(&analysis->context_views,
                                     count * sizeof(struct analysis_context_view)) < 0) {
        return -1;
    }
    for (size_t index = 0; index < count; index++) {
        struct analysis_context_view view = view_of(analysis, &contexts[index]);
        if (stacks_reserve(analysis, contexts[index].stack_id) < 0) {
            return -1;
        }
        byte_buffer_append(&analysis->context_views, &view, sizeof view); /* reserved */
        stack_add(analysis, &contexts[index], &view);
        summary_add(analysis, &contexts[index], &view);
    }
    summary_mix(analysis);
    return 0;
}

/* --- accessors ------------------------------------------------------------------------- */

const struct capture_reader *capture_analysis_reader(const struct capture_analysis *analysis)
{
    return analysis->reader;
}

const char *capture_analysis_thread_name(const struct capture_analysis *analysis,
                                         uint64_t thread_id, size_t *size)
{
    size_t count = capture_reader_thread_count(analysis->reader);
    for (size_t index = 0; index < count; index++) {
        const struct capture_thread *thread = capture_reader_thread(analysis->reader, index);
        if (thread->thread_id == thread_id) {
            return capture_reader_string(analysis->reader, thread->name_sid, size);
        }
    }
    *size = 0;
    return "";
}

const struct analysis_summary *capture_analysis_summary(const struct capture_analysis *analysis)
{
    return &analysis->summary;
}

const struct capture_estimates *capture_analysis_estimates(const struct capture_analysis *analysis)
{
    return analysis->estimates;
}

const struct analysis_context_view *capture_analysis_contexts(
    const struct capture_analysis *analysis, size_t *count)
{
    *count = analysis->context_views.size / sizeof(struct analysis_context_view);
    return (const struct analysis_context_view *)analysis->context_views.data;
}

const struct analysis_interval *capture_analysis_intervals(
    const struct capture_analysis *analysis, size_t *count)
{
    *count = analysis->timeline.intervals.size / sizeof(struct analysis_interval);
    return (const struct analysis_interval *)analysis->timeline.intervals.data;
}

static const struct analysis_point *series_points(const struct byte_buffer *series,
                                                  size_t *count)
{
    *count = series->size / sizeof(struct analysis_point);
    return (const struct analysis_point *)series->data;
}

const struct analysis_point *capture_analysis_heap_series(
    const struct capture_analysis *analysis, size_t *count)
{
    return series_points(&analysis->timeline.heap_series, count);
}

const struct analysis_point *capture_analysis_rss_series(
    const struct capture_analysis *analysis, size_t *count)
{
    return series_points(&analysis->timeline.rss_series, count);
}

const struct analysis_point *capture_analysis_gc_series(
    const struct capture_analysis *analysis, size_t *count)
{
    return series_points(&analysis->timeline.gc_series, count);
}

/* --- stacks ---------------------------------------------------------------------------- */

static int stack_entry_compare(const void *left_pointer, const void *right_pointer)
{
    const struct analysis_stack_entry *left = left_pointer;
    const struct analysis_stack_entry *right = right_pointer;
    int order = analysis_compare_u64_descending(left->bytes, right->bytes);
    if (!order) {
        order = analysis_compare_u64_descending(left->count, right->count);
    }
    return order ? order : analysis_compare_u32(left->stack_id, right->stack_id);
}

static const struct analysis_figures *stack_view_figures(const struct stack_state *state,
                                                         enum analysis_stack_view view)
{
    return view == ANALYSIS_STACKS_AT_PEAK ? &state->at_peak : &state->leaked;
}

int capture_analysis_stack_entries(const struct capture_analysis *analysis,
                                   enum analysis_stack_view view,
                                   struct analysis_stack_entry **entries, size_t *count)
{
    const struct stack_state *states = analysis_stack_states(analysis);
    size_t used = 0;
    for (size_t stack_id = 0; stack_id < analysis->stack_capacity; stack_id++) {
        const struct analysis_figures *figures = stack_view_figures(&states[stack_id], view);
        used += figures->bytes || figures->count;
    }
    *entries = NULL;
    *count = 0;
    if (used == 0) {
        return 0;
    }
    struct analysis_stack_entry *array = tracker_malloc(used * sizeof *array);
    if (!array) {
        return -1;
    }
    size_t filled = 0;
    for (size_t stack_id = 0; stack_id < analysis->stack_capacity; stack_id++) {
        const struct analysis_figures *figures = stack_view_figures(&states[stack_id], view);
        if (figures->bytes || figures->count) {
            struct analysis_stack_entry entry = {(uint32_t)stack_id, figures->bytes,
                                                 figures->count};
            array[filled++] = entry;
        }
    }
    qsort(array, used, sizeof *array, stack_entry_compare);
    *entries = array;
    *count = used;
    return 0;
}

void capture_analysis_stack_entries_free(struct analysis_stack_entry *entries, size_t count)
{
    tracker_free(entries, count * sizeof *entries);
}
