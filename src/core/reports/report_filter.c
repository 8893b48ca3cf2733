/* The thread, include and exclude tests of report_tree.h, and locations. */
#include "core/reports/report_tree.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/hash_map.h"

#define CACHE_KNOWN 1
#define CACHE_INCLUDED 2
#define CACHE_EXCLUDED 4

/* A frame's names a pattern can match. */
struct frame_names {
    const char *function;
    const char *file;
    const char *base; /* the file's base name */
    const char *module; /* "" when the capture did not record it */
};

/* Returns 1 when pattern matches the frame's function, file, base name or
 * module. */
static int pattern_matches(const char *pattern, const struct frame_names *names)
{
    return fnmatch(pattern, names->function, 0) == 0 || fnmatch(pattern, names->file, 0) == 0 ||
           fnmatch(pattern, names->base, 0) == 0 ||
           (names->module[0] && fnmatch(pattern, names->module, 0) == 0);
}

static int any_matches(const char *const *patterns, size_t count, const struct frame_names *names)
{
    for (size_t i = 0; i < count; i++) {
        if (pattern_matches(patterns[i], names)) {
            return 1;
        }
    }
    return 0;
}

static const char *frame_string(struct capture_reader *reader, uint32_t string_id)
{
    const char *text = capture_reader_string(reader, string_id, NULL);
    return text ? text : "";
}

/* Returns the frame's CACHE_* bits, computing them once. */
static uint8_t frame_bits(const struct report_filter *filter, struct capture_reader *reader,
                          uint32_t frame_id, uint8_t *cache)
{
    if (cache[frame_id] & CACHE_KNOWN) {
        return cache[frame_id];
    }
    const struct capture_frame *frame = capture_reader_frame(reader, frame_id);
    struct frame_names names = {"", "", "", ""};
    if (frame) {
        names.function = frame_string(reader, frame->function_sid);
        names.file = frame_string(reader, frame->file_sid);
        names.module = frame_string(reader, frame->module_sid);
    }
    const char *slash = strrchr(names.file, '/');
    names.base = slash ? slash + 1 : names.file;
    uint8_t bits = CACHE_KNOWN;
    if (any_matches(filter->include, filter->include_count, &names)) {
        bits |= CACHE_INCLUDED;
    }
    if (any_matches(filter->exclude, filter->exclude_count, &names)) {
        bits |= CACHE_EXCLUDED;
    }
    cache[frame_id] = bits;
    return bits;
}

int report_filter_accepts(const struct report_filter *filter, struct capture_reader *reader,
                          const struct analysis_context_view *context, uint8_t *cache)
{
    if (filter->has_thread && context->thread_id != filter->thread_id) {
        return 0;
    }
    if (!filter->include_count && !filter->exclude_count) {
        return 1;
    }
    int included = filter->include_count == 0;
    uint32_t stack_id = context->stack_id;
    while (stack_id) {
        const struct capture_stack *stack = capture_reader_stack(reader, stack_id);
        if (!stack) {
            break;
        }
        uint8_t bits = frame_bits(filter, reader, stack->frame_id, cache);
        if (bits & CACHE_EXCLUDED) {
            return 0;
        }
        included |= (bits & CACHE_INCLUDED) != 0;
        stack_id = stack->parent_stack_id;
    }
    return included;
}

/* --- locations ----------------------------------------------------------------------- */

static void figures_add(struct analysis_figures *sum, const struct analysis_figures *figures)
{
    sum->bytes += figures->bytes;
    sum->count += figures->count;
}

/* The innermost frame of a context's stack (0 for the empty stack). */
static uint32_t innermost_frame(struct capture_reader *reader, uint32_t stack_id)
{
    const struct capture_stack *stack = stack_id ? capture_reader_stack(reader, stack_id) : NULL;
    return stack ? stack->frame_id : 0;
}

int report_locations(const struct report_collection *collection,
                     const struct report_filter *filter, struct report_location **locations,
                     size_t *count)
{
    struct capture_reader *reader = report_collection_reader(collection);
    size_t context_count;
    const struct analysis_context_view *contexts = report_collection_contexts(collection, &context_count);
    uint8_t *cache = calloc((size_t)capture_reader_frame_count(reader) + 1, 1);
    struct report_location *rows = calloc(context_count + 1, sizeof *rows);
    struct hash_map index;
    hash_map_init(&index);
    size_t used = 0;
    int result = cache && rows ? 0 : -1;
    for (size_t i = 0; i < context_count && result == 0; i++) {
        int accepted = report_filter_accepts(filter, reader, &contexts[i], cache);
        if (accepted <= 0 || contexts[i].selected[ANALYSIS_SELECT_TOTAL].count == 0) {
            continue;
        }
        uint32_t frame_id = innermost_frame(reader, contexts[i].stack_id);
        uint64_t *found = hash_map_find(&index, frame_id);
        size_t row = found ? *found : used;
        if (!found) {
            result = hash_map_put(&index, frame_id, used);
            rows[used++].frame_id = frame_id;
        }
        figures_add(&rows[row].selected, &contexts[i].selected[filter->selection]);
        figures_add(&rows[row].leaked, &contexts[i].selected[ANALYSIS_SELECT_LEAKS]);
        figures_add(&rows[row].total, &contexts[i].selected[ANALYSIS_SELECT_TOTAL]);
        figures_add(&rows[row].peak, &contexts[i].selected[ANALYSIS_SELECT_PEAK]);
    }
    hash_map_release(&index);
    free(cache);
    if (result < 0) {
        free(rows);
        return -1;
    }
    *locations = rows;
    *count = used;
    return 0;
}
