/* Call trees from a report collection: see report_tree.h. */
#include "core/reports/report_tree.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/byte_buffer.h"
#include "core/base/hash_map.h"
#include "core/reports/report_merged_paths.h"
#include "core/base/tracker_memory.h"

#define NO_NODE (-1)
#define SPECIAL_KEY (UINT64_C(1) << 32)
#define NO_FRAME_KEY SPECIAL_KEY
#define ROOT_INDEX 0

/* The whole tree while it is built, before bounding. */
struct full_tree {
    struct byte_buffer nodes; /* struct report_node */
    struct hash_map children; /* parent << 33 | child key -> node index */
    struct hash_map thread_index; /* thread id -> position in the reader's list */
    struct byte_buffer path;  /* uint32_t frame ids of one stack, innermost first */
    int64_t *leaf_of_context; /* the node each context's allocations end at, or -1 */
    struct merged_paths merged; /* paths of contexts with a native stack */
};

static struct report_node *full_nodes(const struct full_tree *full)
{
    return (struct report_node *)full->nodes.data;
}

static size_t full_count(const struct full_tree *full)
{
    return full->nodes.size / sizeof(struct report_node);
}

/* Appends a node; returns its index or -1 (no memory). */
static int64_t node_append(struct full_tree *full, int64_t parent, enum report_node_kind kind)
{
    struct report_node node;
    memset(&node, 0, sizeof node);
    node.parent = parent;
    node.kind = kind;
    size_t index = full_count(full);
    if (byte_buffer_append(&full->nodes, &node, sizeof node) < 0) {
        return -1;
    }
    return (int64_t)index;
}

/* Returns the child of parent under key, creating it with kind; -1: no memory. */
static int64_t child_of(struct full_tree *full, int64_t parent, uint64_t key,
                        enum report_node_kind kind)
{
    uint64_t map_key = (uint64_t)parent << 33 | key;
    uint64_t *found = hash_map_find(&full->children, map_key);
    if (found) {
        return (int64_t)*found;
    }
    int64_t index = node_append(full, parent, kind);
    if (index < 0 || hash_map_put(&full->children, map_key, (uint64_t)index) < 0) {
        return -1;
    }
    return index;
}

/* Stores the stack's frame ids, innermost first, in full->path. */
static int collect_path(struct full_tree *full, struct capture_reader *reader, uint32_t stack_id)
{
    byte_buffer_clear(&full->path);
    while (stack_id) {
        const struct capture_stack *stack = capture_reader_stack(reader, stack_id);
        if (!stack) {
            break;
        }
        if (byte_buffer_append(&full->path, &stack->frame_id, sizeof stack->frame_id) < 0) {
            return -1;
        }
        stack_id = stack->parent_stack_id;
    }
    return 0;
}

/* Returns the thread node below the root; -1: no memory. */
static int64_t thread_node(struct full_tree *full, uint64_t thread_id)
{
    uint64_t *found = hash_map_find(&full->thread_index, thread_id);
    uint64_t position = found ? *found : full->thread_index.count;
    if (!found && hash_map_put(&full->thread_index, thread_id, position) < 0) {
        return -1;
    }
    int64_t node = child_of(full, ROOT_INDEX, SPECIAL_KEY | (position + 1), REPORT_NODE_THREAD);
    if (node >= 0) {
        full_nodes(full)[node].thread_id = thread_id;
    }
    return node;
}

/* Adds the figures to a node (inclusive). */
static void node_add(struct full_tree *full, int64_t node, const struct analysis_figures *figures,
                     uint64_t weight)
{
    struct report_node *target = &full_nodes(full)[node];
    target->bytes += figures->bytes;
    target->count += figures->count;
    target->weight += weight;
}

/* Adds figures along the merged path of a context with a native stack,
 * below node; returns the last node or -1. */
static int64_t add_merged_path(struct full_tree *full, int64_t node,
                               const struct analysis_context_view *context,
                               const struct report_tree_options *options,
                               const struct analysis_figures *figures, uint64_t weight)
{
    const struct merged_path_step *steps;
    size_t depth;
    if (merged_paths_get(&full->merged, context->stack_id, context->native_stack_id, &steps,
                         &depth) < 0) {
        return -1;
    }
    if (depth == 0 && (node = child_of(full, node, NO_FRAME_KEY, REPORT_NODE_NO_FRAME)) >= 0) {
        node_add(full, node, figures, weight);
    }
    for (size_t step = 0; step < depth && node >= 0; step++) {
        const struct merged_path_step *taken = &steps[options->inverted ? step : depth - 1 - step];
        node = child_of(full, node, taken->key, REPORT_NODE_FRAME);
        if (node >= 0) {
            full_nodes(full)[node].frame_id = taken->frame_id;
            full_nodes(full)[node].native = taken->native;
            node_add(full, node, figures, weight);
        }
    }
    return node;
}

/* Adds figures along the Python path of a context below node; returns the
 * last node or -1. */
static int64_t add_python_path(struct full_tree *full, struct capture_reader *reader, int64_t node,
                               const struct analysis_context_view *context,
                               const struct report_tree_options *options,
                               const struct analysis_figures *figures, uint64_t weight)
{
    if (collect_path(full, reader, context->stack_id) < 0) {
        return -1;
    }
    const uint32_t *frames = (const uint32_t *)full->path.data;
    size_t depth = full->path.size / sizeof *frames;
    if (depth == 0 && (node = child_of(full, node, NO_FRAME_KEY, REPORT_NODE_NO_FRAME)) >= 0) {
        node_add(full, node, figures, weight);
    }
    for (size_t step = 0; step < depth && node >= 0; step++) {
        uint32_t frame_id = frames[options->inverted ? step : depth - 1 - step];
        node = child_of(full, node, frame_id, REPORT_NODE_FRAME);
        if (node >= 0) {
            full_nodes(full)[node].frame_id = frame_id;
            node_add(full, node, figures, weight);
        }
    }
    return node;
}

/* Adds one context's figures along its path; returns its leaf or -1. */
static int64_t add_context(struct full_tree *full, struct capture_reader *reader,
                           const struct analysis_context_view *context,
                           const struct report_tree_options *options)
{
    const struct analysis_figures *figures = &context->selected[options->filter.selection];
    uint64_t weight = options->temporal ? context->selected[ANALYSIS_SELECT_TOTAL].bytes : figures->bytes;
    int64_t node = ROOT_INDEX;
    node_add(full, node, figures, weight);
    if (options->split_threads && (node = thread_node(full, context->thread_id)) < 0) {
        return -1;
    }
    if (node != ROOT_INDEX) {
        node_add(full, node, figures, weight);
    }
    node = context->native_stack_id
               ? add_merged_path(full, node, context, options, figures, weight)
               : add_python_path(full, reader, node, context, options, figures, weight);
    if (node >= 0) {
        full_nodes(full)[node].self_bytes += figures->bytes;
        full_nodes(full)[node].self_count += figures->count;
    }
    return node;
}

/* Whether a context belongs in the tree (its figures are not all zero). */
static int context_counts(const struct analysis_context_view *context,
                          const struct report_tree_options *options)
{
    if (options->temporal) {
        return context->selected[ANALYSIS_SELECT_TOTAL].count > 0;
    }
    const struct analysis_figures *figures = &context->selected[options->filter.selection];
    return figures->count > 0 || figures->bytes > 0;
}

static int build_full(const struct report_collection *collection,
                      const struct report_tree_options *options, struct full_tree *full)
{
    struct capture_reader *reader = report_collection_reader(collection);
    size_t count;
    const struct analysis_context_view *contexts = report_collection_contexts(collection, &count);
    uint8_t *cache = calloc((size_t)capture_reader_frame_count(reader) + 1, 1);
    full->leaf_of_context = malloc((count + 1) * sizeof *full->leaf_of_context);
    if (!cache || !full->leaf_of_context || node_append(full, NO_NODE, REPORT_NODE_ROOT) < 0) {
        free(cache);
        return -1;
    }
    int result = 0;
    for (size_t i = 0; i < count && result == 0; i++) {
        full->leaf_of_context[i] = NO_NODE;
        int accepted = report_filter_accepts(&options->filter, reader, &contexts[i], cache);
        if (accepted < 0) {
            result = -1;
        } else if (accepted && context_counts(&contexts[i], options)) {
            full->leaf_of_context[i] = add_context(full, reader, &contexts[i], options);
            result = full->leaf_of_context[i] < 0 ? -1 : 0;
        }
    }
    free(cache);
    return result;
}

/* --- bounding and output order ----------------------------------------------------------- */

static int compare_descending(const void *left, const void *right)
{
    uint64_t a = *(const uint64_t *)left, b = *(const uint64_t *)right;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* The weight folded into OTHER nodes when nodes lighter than threshold are
 * folded: the nodes below it whose parent is kept (inclusive weights never
 * grow from parent to child, so a folded node's descendants are folded). */
static uint64_t folded_weight(const struct full_tree *full, uint64_t threshold)
{
    const struct report_node *nodes = full_nodes(full);
    size_t count = full_count(full);
    uint64_t folded = 0;
    for (size_t i = 1; i < count; i++) {
        if (nodes[i].weight < threshold && nodes[nodes[i].parent].weight >= threshold) {
            folded += nodes[i].weight;
        }
    }
    return folded;
}

/* The budget's threshold lowered until at most cap is folded: the weights
 * sorted in descending order from index budget on are the candidates
 * (threshold weights[k] + 1 keeps the k + 1 heaviest nodes at least), and
 * folding only grows with the threshold, so the first candidate within the
 * cap is found by bisection. */
static uint64_t capped_threshold(const struct full_tree *full, const uint64_t *weights,
                                 size_t count, size_t budget, uint64_t cap)
{
    size_t low = budget, high = count; /* candidates [low, high); high: fold nothing */
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (folded_weight(full, weights[middle] + 1) <= cap) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    return low < count ? weights[low] + 1 : 0;
}

/* The weight a node needs to be kept: other_fraction of the root's, raised
 * so that at most max_nodes / 2 nodes are kept, unless that would fold more
 * than max_folded_fraction of the root's weight. Returns 0 or -1 (no memory). */
static int keep_threshold(const struct full_tree *full, const struct report_tree_options *options,
                          uint64_t *threshold)
{
    const struct report_node *nodes = full_nodes(full);
    size_t count = full_count(full);
    uint64_t root = nodes[ROOT_INDEX].weight;
    *threshold = (uint64_t)ceil((double)root * options->other_fraction);
    size_t budget = options->max_nodes / 2;
    if (count <= budget) {
        return 0;
    }
    uint64_t *weights = malloc(count * sizeof *weights);
    if (!weights) {
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        weights[i] = nodes[i].weight;
    }
    qsort(weights, count, sizeof *weights, compare_descending);
    uint64_t by_budget = weights[budget] + 1;
    if (options->max_folded_fraction > 0) {
        uint64_t cap = (uint64_t)floor((double)root * options->max_folded_fraction);
        if (folded_weight(full, by_budget) > cap) {
            by_budget = capped_threshold(full, weights, count, budget, cap);
        }
    }
    if (by_budget > *threshold) {
        *threshold = by_budget;
    }
    free(weights);
    return 0;
}

/* Child lists of the full tree: children of node n are order[first[n] ..
 * first[n + 1]), largest bytes first. */
struct child_lists {
    size_t *first;
    size_t *order;
};

static int compare_children(const void *left, const void *right, void *argument)
{
    const struct report_node *nodes = argument;
    const struct report_node *a = &nodes[*(const size_t *)left];
    const struct report_node *b = &nodes[*(const size_t *)right];
    if (a->bytes != b->bytes) {
        return a->bytes < b->bytes ? 1 : -1;
    }
    if (a->weight != b->weight) {
        return a->weight < b->weight ? 1 : -1;
    }
    return *(const size_t *)left < *(const size_t *)right ? -1 : 1;
}

static int child_lists_build(const struct full_tree *full, struct child_lists *lists)
{
    const struct report_node *nodes = full_nodes(full);
    size_t count = full_count(full);
    lists->first = calloc(count + 2, sizeof *lists->first);
    lists->order = malloc((count + 1) * sizeof *lists->order);
    if (!lists->first || !lists->order) {
        return -1;
    }
    for (size_t i = 1; i < count; i++) {
        lists->first[nodes[i].parent + 2]++;
    }
    for (size_t i = 2; i < count + 2; i++) {
        lists->first[i] += lists->first[i - 1];
    }
    for (size_t i = 1; i < count; i++) {
        lists->order[lists->first[nodes[i].parent + 1]++] = i;
    }
    for (size_t i = 0; i < count; i++) {
        qsort_r(lists->order + lists->first[i], lists->first[i + 1] - lists->first[i],
                sizeof *lists->order, compare_children, (void *)nodes);
    }
    return 0;
}

struct bounding {
    const struct full_tree *full;
    struct child_lists lists;
    uint64_t threshold;
    int64_t *final_of;         /* full node -> output node */
    struct byte_buffer output; /* struct report_node */
    size_t *stack;             /* DFS of kept full nodes */
    uint64_t folded_bytes;     /* the bytes of the OTHER nodes emitted */
    uint64_t folded_count;     /* full nodes folded */
};

static size_t output_count(const struct bounding *bounding)
{
    return bounding->output.size / sizeof(struct report_node);
}

/* Emits a kept full node, then an OTHER node for its folded children. */
static int emit_node(struct bounding *bounding, size_t index, int64_t parent, int *truncated)
{
    struct report_node node = full_nodes(bounding->full)[index];
    node.parent = parent;
    bounding->final_of[index] = (int64_t)output_count(bounding);
    if (byte_buffer_append(&bounding->output, &node, sizeof node) < 0) {
        return -1;
    }
    struct report_node other;
    memset(&other, 0, sizeof other);
    other.parent = bounding->final_of[index];
    other.kind = REPORT_NODE_OTHER;
    const struct child_lists *lists = &bounding->lists;
    int folded = 0;
    for (size_t i = lists->first[index]; i < lists->first[index + 1]; i++) {
        const struct report_node *child = &full_nodes(bounding->full)[lists->order[i]];
        if (child->weight < bounding->threshold) {
            other.bytes += child->bytes;
            other.count += child->count;
            other.weight += child->weight;
            folded = 1;
        }
    }
    if (!folded) {
        return 0;
    }
    *truncated = 1;
    bounding->folded_bytes += other.bytes;
    other.self_bytes = other.bytes;
    other.self_count = other.count;
    return byte_buffer_append(&bounding->output, &other, sizeof other);
}

/* Emits the kept nodes in preorder (parents first, largest children first). */
static int emit_tree(struct bounding *bounding, int *truncated)
{
    const struct child_lists *lists = &bounding->lists;
    size_t depth = 0;
    bounding->stack[depth++] = ROOT_INDEX;
    while (depth) {
        size_t index = bounding->stack[--depth];
        int64_t parent = full_nodes(bounding->full)[index].parent;
        if (emit_node(bounding, index, parent < 0 ? -1 : bounding->final_of[parent],
                      truncated) < 0) {
            return -1;
        }
        for (size_t i = lists->first[index + 1]; i > lists->first[index]; i--) {
            size_t child = lists->order[i - 1];
            if (full_nodes(bounding->full)[child].weight >= bounding->threshold) {
                bounding->stack[depth++] = child;
            }
        }
    }
    return 0;
}

/* Maps folded full nodes to the OTHER node of their nearest kept ancestor:
 * emit_node() appends a kept node's OTHER node right after it. Full nodes
 * come after their parents, so a folded parent is mapped already. */
static void map_folded(struct bounding *bounding)
{
    const struct report_node *nodes = full_nodes(bounding->full);
    for (size_t i = 1; i < full_count(bounding->full); i++) {
        if (nodes[i].weight >= bounding->threshold) {
            continue;
        }
        bounding->folded_count++;
        int64_t parent = nodes[i].parent;
        int parent_kept = nodes[parent].weight >= bounding->threshold;
        bounding->final_of[i] = parent_kept ? bounding->final_of[parent] + 1
                                            : bounding->final_of[parent];
    }
}

/* --- temporal intervals per output node -------------------------------------------------- */

static int merge_intervals(const struct report_collection *collection,
                           const struct full_tree *full, const int64_t *final_of,
                           struct report_tree *tree)
{
    size_t count;
    const struct analysis_interval *intervals = report_collection_intervals(collection, &count);
    struct analysis_interval *merged = malloc((count + 1) * sizeof *merged);
    struct hash_map index;
    hash_map_init(&index);
    size_t used = 0;
    int result = merged ? 0 : -1;
    for (size_t i = 0; i < count && result == 0; i++) {
        int64_t leaf = full->leaf_of_context[intervals[i].context];
        if (leaf < 0) {
            continue;
        }
        uint64_t node = (uint64_t)final_of[leaf];
        uint32_t free_key = intervals[i].free_bucket == ANALYSIS_NEVER_FREED
                                ? 0xFFu : intervals[i].free_bucket;
        uint64_t key = node << 16 | (uint64_t)intervals[i].alloc_bucket << 8 | free_key;
        uint64_t *found = hash_map_find(&index, key);
        if (found) {
            merged[*found].bytes += intervals[i].bytes;
            merged[*found].count += intervals[i].count;
            continue;
        }
        merged[used] = intervals[i];
        merged[used].context = (uint32_t)node;
        result = hash_map_put(&index, key, used++);
    }
    hash_map_release(&index);
    tree->intervals = merged;
    tree->interval_count = used;
    return result;
}

/* --- the whole build ------------------------------------------------------------------------ */

static void full_release(struct full_tree *full)
{
    byte_buffer_release(&full->nodes);
    hash_map_release(&full->children);
    hash_map_release(&full->thread_index);
    byte_buffer_release(&full->path);
    free(full->leaf_of_context);
    merged_paths_release(&full->merged);
}

static int bound_and_emit(const struct report_collection *collection, struct full_tree *full,
                          const struct report_tree_options *options, struct report_tree *tree)
{
    struct bounding bounding;
    memset(&bounding, 0, sizeof bounding);
    bounding.full = full;
    size_t count = full_count(full);
    bounding.final_of = malloc(count * sizeof *bounding.final_of);
    bounding.stack = malloc(count * sizeof *bounding.stack);
    int result = -1;
    if (bounding.final_of && bounding.stack && keep_threshold(full, options,
                                                              &bounding.threshold) == 0 &&
        child_lists_build(full, &bounding.lists) == 0 &&
        emit_tree(&bounding, &tree->truncated) == 0) {
        map_folded(&bounding);
        result = options->temporal ? merge_intervals(collection, full, bounding.final_of, tree)
                                   : 0;
    }
    tree->nodes = (struct report_node *)bounding.output.data;
    tree->nodes_capacity = bounding.output.capacity;
    tree->count = output_count(&bounding);
    tree->other_threshold = bounding.threshold;
    tree->folded_count = bounding.folded_count;
    tree->folded_bytes = bounding.folded_bytes;
    free(bounding.final_of);
    free(bounding.stack);
    free(bounding.lists.first);
    free(bounding.lists.order);
    return result;
}

int report_tree_build(const struct report_collection *collection,
                      const struct report_tree_options *options, struct report_tree *tree)
{
    memset(tree, 0, sizeof *tree);
    struct full_tree full;
    memset(&full, 0, sizeof full);
    hash_map_init(&full.children);
    hash_map_init(&full.thread_index);
    merged_paths_init(&full.merged, report_collection_reader(collection));
    full.merged.all_native_frames = options->all_native_frames;
    full.merged.mark_trimmed = options->mark_trimmed_frames;
    int result = build_full(collection, options, &full);
    if (result == 0) {
        result = bound_and_emit(collection, &full, options, tree);
        tree->native_frames = merged_paths_take_natives(&full.merged, &tree->native_frame_count);
    }
    full_release(&full);
    if (result < 0) {
        report_tree_release(tree);
    }
    return result;
}

void report_tree_release(struct report_tree *tree)
{
    for (size_t index = 0; index < tree->native_frame_count; index++) {
        report_native_frame_free(tree->native_frames[index]);
    }
    free(tree->native_frames);
    /* A byte buffer's: given back to the tracker's accounting, not just freed. */
    tracker_free(tree->nodes, tree->nodes_capacity);
    free(tree->intervals);
    memset(tree, 0, sizeof *tree);
}
