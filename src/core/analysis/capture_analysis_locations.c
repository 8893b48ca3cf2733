/* The analysis's locations: after the pass, the stacks that allocated are
 * grouped by innermost frame with their figures and threads; then ranked
 * for the top lists. */
#include "core/analysis/capture_analysis_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/byte_buffer.h"
#include "core/base/tracker_memory.h"

/* --- grouping stacks into locations ------------------------------------------------ */

/* A used stack and its location key, sorted to group stacks by location. */
struct location_member {
    uint32_t stack_id;
    int no_python_frame;
    uint32_t function_sid;
    uint32_t file_sid;
    uint32_t line;
};

static void location_member_set(const struct capture_analysis *analysis, uint32_t stack_id,
                                struct location_member *member)
{
    memset(member, 0, sizeof *member);
    member->stack_id = stack_id;
    const struct capture_stack *stack = capture_reader_stack(analysis->reader, stack_id);
    const struct capture_frame *frame =
        stack ? capture_reader_frame(analysis->reader, stack->frame_id) : NULL;
    if (!frame) {
        member->no_python_frame = 1;
        return;
    }
    member->function_sid = frame->function_sid;
    member->file_sid = frame->file_sid;
    member->line = frame->line;
}

static int location_member_compare(const void *left_pointer, const void *right_pointer)
{
    const struct location_member *left = left_pointer;
    const struct location_member *right = right_pointer;
    int order =
        analysis_compare_u32((uint32_t)right->no_python_frame, (uint32_t)left->no_python_frame);
    if (!order) {
        order = analysis_compare_u32(left->function_sid, right->function_sid);
    }
    if (!order) {
        order = analysis_compare_u32(left->file_sid, right->file_sid);
    }
    return order ? order : analysis_compare_u32(left->line, right->line);
}

static void figures_accumulate(uint64_t *bytes, uint64_t *count,
                               const struct analysis_figures *part)
{
    *bytes += part->bytes;
    *count += part->count;
}

/* Adds a stack's figures to its location: sums of the same rounded context
 * figures the reports add up, with the estimates behind them. */
static void location_add_stack(const struct capture_analysis *analysis,
                               struct analysis_location *location, uint32_t stack_id)
{
    const struct stack_state *state = &analysis_stack_states(analysis)[stack_id];
    if (state->native_stack_id && state->native_largest_size >= location->native_largest_size) {
        location->native_largest_size = state->native_largest_size;
        location->native_stack_id = state->native_stack_id;
        location->native_python_stack_id = stack_id;
    }
    figures_accumulate(&location->peak_bytes, &location->peak_count, &state->at_peak);
    figures_accumulate(&location->total_bytes, &location->total_count, &state->total);
    figures_accumulate(&location->leaked_bytes, &location->leaked_count, &state->leaked);
    analysis_estimate_add(&location->estimated_peak, &state->estimated_at_peak, 1);
    analysis_estimate_add(&location->estimated_total, &state->estimated_total, 1);
    analysis_estimate_add(&location->estimated_leaked, &state->estimated_leaked, 1);
}

/* Groups sorted members into analysis->locations. Returns 0 or -1. */
static int locations_from_members(struct capture_analysis *analysis,
                                  const struct location_member *members, size_t count)
{
    struct analysis_location *location = NULL;
    for (size_t index = 0; index < count; index++) {
        const struct location_member *member = &members[index];
        if (!location || location_member_compare(member, &members[index - 1]) != 0) {
            struct analysis_location fresh = {
                .no_python_frame = member->no_python_frame,
                .function_sid = member->function_sid,
                .file_sid = member->file_sid,
                .line = member->line,
            };
            if (byte_buffer_append(&analysis->locations, &fresh, sizeof fresh) < 0) {
                return -1;
            }
            location = (struct analysis_location *)(analysis->locations.data +
                                                    analysis->locations.size) - 1;
        }
        location_add_stack(analysis, location, member->stack_id);
    }
    return 0;
}

/* Where the threads of each stack go: the location index of each stack id
 * (UINT32_MAX for stacks that never allocated). */
struct thread_assignment {
    struct capture_analysis *analysis;
    uint32_t *location_of_stack;
};

/* Lists thread_id at its stack's location. */
static void location_add_thread(struct thread_assignment *assignment, uint32_t stack_id,
                                uint64_t thread_id)
{
    if (stack_id >= assignment->analysis->stack_capacity ||
        assignment->location_of_stack[stack_id] == UINT32_MAX) {
        return;
    }
    struct analysis_location *location =
        (struct analysis_location *)assignment->analysis->locations.data +
        assignment->location_of_stack[stack_id];
    for (uint32_t index = 0; index < location->thread_count; index++) {
        if (location->thread_ids[index] == thread_id) {
            return;
        }
    }
    if (location->thread_count == ANALYSIS_LOCATION_THREADS) {
        location->more_threads = 1;
        return;
    }
    location->thread_ids[location->thread_count++] = thread_id;
}

/* Fills each location's thread list from the contexts' (stack, thread); members
 * are sorted as locations_from_members grouped them. Returns 0 or -1. */
static int locations_assign_threads(struct capture_analysis *analysis,
                                    const struct location_member *members, size_t count)
{
    size_t size = analysis->stack_capacity * sizeof(uint32_t);
    uint32_t *location_of_stack = tracker_malloc(size ? size : 1);
    if (!location_of_stack) {
        return -1;
    }
    memset(location_of_stack, 0xff, size);
    uint32_t location = 0;
    for (size_t index = 0; index < count; index++) {
        if (index > 0 && location_member_compare(&members[index], &members[index - 1]) != 0) {
            location++;
        }
        location_of_stack[members[index].stack_id] = location;
    }
    struct thread_assignment assignment = {analysis, location_of_stack};
    const struct analysis_context *contexts = analysis_contexts(analysis);
    for (size_t index = 0; index < analysis_context_count(analysis); index++) {
        location_add_thread(&assignment, contexts[index].stack_id, contexts[index].thread_id);
    }
    tracker_free(location_of_stack, size ? size : 1);
    return 0;
}

/* Builds the locations from every stack that allocated. Returns 0 or -1. */
int analysis_locations_build(struct capture_analysis *analysis)
{
    const struct stack_state *states = analysis_stack_states(analysis);
    size_t used = 0;
    for (size_t stack_id = 0; stack_id < analysis->stack_capacity; stack_id++) {
        used += states[stack_id].used;
    }
    if (used == 0) {
        return 0;
    }
    struct location_member *members = tracker_malloc(used * sizeof *members);
    if (!members) {
        return -1;
    }
    size_t filled = 0;
    for (size_t stack_id = 0; stack_id < analysis->stack_capacity; stack_id++) {
        if (states[stack_id].used) {
            location_member_set(analysis, (uint32_t)stack_id, &members[filled++]);
        }
    }
    qsort(members, used, sizeof *members, location_member_compare);
    int result = locations_from_members(analysis, members, used);
    if (result == 0) {
        result = locations_assign_threads(analysis, members, used);
    }
    tracker_free(members, used * sizeof *members);
    return result;
}

/* --- locations in the public API ------------------------------------------------ */

size_t capture_analysis_location_count(const struct capture_analysis *analysis)
{
    return analysis->locations.size / sizeof(struct analysis_location);
}

void analysis_location_figures(const struct analysis_location *location,
                               enum analysis_ranking ranking, uint64_t *bytes, uint64_t *count)
{
    switch (ranking) {
    case ANALYSIS_BY_PEAK:
        *bytes = location->peak_bytes;
        *count = location->peak_count;
        return;
    case ANALYSIS_LEAKS:
        *bytes = location->leaked_bytes;
        *count = location->leaked_count;
        return;
    default:
        *bytes = location->total_bytes;
        *count = location->total_count;
        return;
    }
}

void capture_analysis_location_names(const struct capture_analysis *analysis,
                                     const struct analysis_location *location,
                                     const char **function, size_t *function_size,
                                     const char **file, size_t *file_size)
{
    if (location->no_python_frame) {
        *function = ANALYSIS_NO_PYTHON_FRAME;
        *function_size = strlen(ANALYSIS_NO_PYTHON_FRAME);
        *file = "";
        *file_size = 0;
        return;
    }
    *function = capture_reader_string(analysis->reader, location->function_sid, function_size);
    *file = capture_reader_string(analysis->reader, location->file_sid, file_size);
}

struct ranking_context {
    const struct capture_analysis *analysis;
    enum analysis_ranking ranking;
};

static int compare_text(const char *left, size_t left_size, const char *right, size_t right_size)
{
    int order = memcmp(left, right, left_size < right_size ? left_size : right_size);
    if (order) {
        return order;
    }
    return left_size < right_size ? -1 : left_size > right_size;
}

/* Orders locations by name: function, file, line; then the sids, so that
 * the order is total even if a writer repeated a string. */
static int location_compare_names(const struct capture_analysis *analysis,
                                  const struct analysis_location *left,
                                  const struct analysis_location *right)
{
    const char *left_function, *left_file, *right_function, *right_file;
    size_t left_function_size, left_file_size, right_function_size, right_file_size;
    capture_analysis_location_names(analysis, left, &left_function, &left_function_size,
                                    &left_file, &left_file_size);
    capture_analysis_location_names(analysis, right, &right_function, &right_function_size,
                                    &right_file, &right_file_size);
    int order = compare_text(left_function, left_function_size, right_function,
                             right_function_size);
    if (!order) {
        order = compare_text(left_file, left_file_size, right_file, right_file_size);
    }
    if (!order) {
        order = analysis_compare_u32(left->line, right->line);
    }
    if (!order) {
        struct location_member left_key = {0, left->no_python_frame, left->function_sid,
                                           left->file_sid, left->line};
        struct location_member right_key = {0, right->no_python_frame, right->function_sid,
                                            right->file_sid, right->line};
        order = location_member_compare(&left_key, &right_key);
    }
    return order;
}

static int location_rank_compare(const void *left_pointer, const void *right_pointer,
                                 void *context_pointer)
{
    const struct ranking_context *context = context_pointer;
    const struct analysis_location *left = *(const struct analysis_location *const *)left_pointer;
    const struct analysis_location *right =
        *(const struct analysis_location *const *)right_pointer;
    uint64_t left_bytes, left_count, right_bytes, right_count;
    analysis_location_figures(left, context->ranking, &left_bytes, &left_count);
    analysis_location_figures(right, context->ranking, &right_bytes, &right_count);
    int by_count = context->ranking == ANALYSIS_BY_COUNT;
    int order = by_count ? analysis_compare_u64_descending(left_count, right_count)
                         : analysis_compare_u64_descending(left_bytes, right_bytes);
    if (!order) {
        order = by_count ? analysis_compare_u64_descending(left_bytes, right_bytes)
                         : analysis_compare_u64_descending(left_count, right_count);
    }
    return order ? order : location_compare_names(context->analysis, left, right);
}

long capture_analysis_top_locations(const struct capture_analysis *analysis,
                                    enum analysis_ranking ranking, size_t limit,
                                    const struct analysis_location **out)
{
    const struct analysis_location *locations =
        (const struct analysis_location *)analysis->locations.data;
    size_t total = capture_analysis_location_count(analysis);
    if (total == 0 || limit == 0) {
        return 0;
    }
    const struct analysis_location **ranked = tracker_malloc(total * sizeof *ranked);
    if (!ranked) {
        return -1;
    }
    size_t candidates = 0;
    for (size_t index = 0; index < total; index++) {
        uint64_t bytes, count;
        analysis_location_figures(&locations[index], ranking, &bytes, &count);
        if (bytes || count) {
            ranked[candidates++] = &locations[index];
        }
    }
    struct ranking_context context = {analysis, ranking};
    qsort_r(ranked, candidates, sizeof *ranked, location_rank_compare, &context);
    size_t stored = candidates < limit ? candidates : limit;
    memcpy(out, ranked, stored * sizeof *ranked);
    tracker_free(ranked, total * sizeof *ranked);
    return (long)stored;
}
