#include "capture_analysis.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate_chunk.h"
#include "byte_buffer.h"
#include "hash_map.h"
#include "stack_threads.h"
#include "tracker_memory.h"

#define NO_FREE_BLOCK UINT64_MAX

/*
 * Per-stack figures. The peak snapshot is kept lazily: peak_bytes and
 * peak_count hold the stack's figures at the latest peak only when
 * changed_in_epoch equals the analysis's epoch (the stack changed since that
 * peak); otherwise the stack has not changed since, and live_* still are its
 * figures at the peak. Before live_* change, stack_touch() saves them.
 */
struct stack_state {
    uint64_t live_bytes;
    uint64_t live_count;
    uint64_t peak_bytes;
    uint64_t peak_count;
    uint64_t total_bytes;
    uint64_t total_count;
    uint64_t changed_in_epoch;
    uint64_t native_largest_size; /* --native: the largest allocation's size and */
    uint32_t native_stack_id;     /* native stack (0: none) */
};

/* A live malloc-family or pymalloc block; on the side array's free list,
 * size links to the next free slot. */
struct live_block {
    uint64_t size;
    uint32_t stack_id;
    uint32_t allocator;
};

/* An anonymous mapping: a node of a treap ordered by start (index 0 = none).
 * Mappings never overlap. */
struct region_node {
    uint64_t start;
    uint64_t size;
    uint32_t stack_id;
    uint32_t allocator;
    uint32_t left;
    uint32_t right;
    uint32_t priority;
};

struct region_tree {
    struct byte_buffer nodes; /* struct region_node; node 0 is unused */
    uint32_t root;
    uint32_t free_list;       /* linked through left */
    uint32_t spare;           /* a node reserved for the next split */
    uint64_t created;         /* seeds priorities */
};

struct capture_analysis {
    struct capture_reader *reader;
    struct analysis_summary summary;

    struct byte_buffer stacks; /* struct stack_state, indexed by stack id */
    size_t stack_capacity;
    uint64_t epoch;            /* number of times a new peak was reached */
    uint64_t heap_bytes;
    uint64_t heap_count;

    struct capture_estimates *estimates; /* sampled captures only */
    struct hash_map malloc_blocks;   /* address -> packed block (see block_encode) */
    struct hash_map pymalloc_blocks; /* address -> packed block */
    struct byte_buffer blocks;       /* side array: struct live_block that do not pack */
    uint64_t free_block;             /* head of the side array's free list */
    struct region_tree regions;

    uint64_t last_time_ns;
    int peak_time_pending;
    struct byte_buffer rss_samples; /* struct analysis_rss_sample */
    struct byte_buffer locations;   /* struct analysis_location, after the pass */
    struct stack_threads stack_threads; /* which threads allocated with which stack */
};

/* --- per-stack figures ---------------------------------------------------- */

static struct stack_state *stack_states(const struct capture_analysis *analysis)
{
    return (struct stack_state *)analysis->stacks.data;
}

/* Makes room for stack_id; returns 0 or -1 when memory ran out. */
static int stack_reserve(struct capture_analysis *analysis, uint32_t stack_id)
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

/* Saves the stack's figures at the latest peak before they change. */
static struct stack_state *stack_touch(struct capture_analysis *analysis, uint32_t stack_id)
{
    struct stack_state *state = &stack_states(analysis)[stack_id];
    if (state->changed_in_epoch != analysis->epoch) {
        state->peak_bytes = state->live_bytes;
        state->peak_count = state->live_count;
        state->changed_in_epoch = analysis->epoch;
    }
    return state;
}

/* Returns the stack's figures at the peak. */
static void stack_at_peak(const struct capture_analysis *analysis, const struct stack_state *state,
                          uint64_t *bytes, uint64_t *count)
{
    int changed = state->changed_in_epoch == analysis->epoch;
    *bytes = changed ? state->peak_bytes : state->live_bytes;
    *count = changed ? state->peak_count : state->live_count;
}

/* Adds live bytes and blocks to a stack (reserved already) and the heap;
 * a heap above the peak makes a new peak. */
static void live_add(struct capture_analysis *analysis, uint32_t stack_id, uint64_t bytes,
                     uint64_t count, uint64_t event_index)
{
    struct stack_state *state = stack_touch(analysis, stack_id);
    state->live_bytes += bytes;
    state->live_count += count;
    analysis->heap_bytes += bytes;
    analysis->heap_count += count;
    if (analysis->heap_bytes > analysis->summary.peak_bytes) {
        analysis->summary.peak_bytes = analysis->heap_bytes;
        analysis->summary.peak_count = analysis->heap_count;
        analysis->summary.peak_event_index = event_index;
        analysis->peak_time_pending = 1;
        analysis->epoch++;
    }
}

/* Removes live bytes and blocks (which the stack holds) from a stack. */
static void live_remove(struct capture_analysis *analysis, uint32_t stack_id, uint64_t bytes,
                        uint64_t count)
{
    struct stack_state *state = stack_touch(analysis, stack_id);
    state->live_bytes -= bytes;
    state->live_count -= count;
    analysis->heap_bytes -= bytes;
    analysis->heap_count -= count;
}

/* Counts one more live block, without bytes: a mapping split in two. */
static void live_split(struct capture_analysis *analysis, uint32_t stack_id)
{
    stack_touch(analysis, stack_id)->live_count++;
    analysis->heap_count++;
}

/* --- malloc-family and pymalloc blocks --------------------------------------- */

/*
 * A live block is kept in its map's value: size in bits 0-35, allocator in
 * 36-39, stack id in 40-63. A block that does not fit (a size of 64 GiB or
 * more, a stack id of 2^24 - 1 or more) goes to the side array, and the
 * value holds BLOCK_IN_SIDE_ARRAY in the stack bits and its index below.
 * Packing saves a memory access per free and most of the memory.
 */
#define BLOCK_SIZE_BITS 36
#define BLOCK_STACK_SHIFT 40
#define BLOCK_IN_SIDE_ARRAY UINT64_C(0xFFFFFF)
#define BLOCK_LOW_MASK ((UINT64_C(1) << BLOCK_STACK_SHIFT) - 1)

static struct live_block *side_blocks(const struct capture_analysis *analysis)
{
    return (struct live_block *)analysis->blocks.data;
}

/* Returns the block a map value describes. */
static struct live_block block_decode(const struct capture_analysis *analysis, uint64_t value)
{
    if (value >> BLOCK_STACK_SHIFT == BLOCK_IN_SIDE_ARRAY) {
        return side_blocks(analysis)[value & BLOCK_LOW_MASK];
    }
    struct live_block block = {value & ((UINT64_C(1) << BLOCK_SIZE_BITS) - 1),
                               (uint32_t)(value >> BLOCK_STACK_SHIFT),
                               (uint32_t)(value >> BLOCK_SIZE_BITS) & 0xF};
    return block;
}

/* Makes the map value of block in *value, using a side slot when needed.
 * Returns 0, or -1 when memory ran out. */
static int block_encode(struct capture_analysis *analysis, const struct live_block *block,
                        uint64_t *value)
{
    if (block->size >> BLOCK_SIZE_BITS == 0 && block->stack_id < BLOCK_IN_SIDE_ARRAY) {
        *value = (uint64_t)block->stack_id << BLOCK_STACK_SHIFT |
                 (uint64_t)block->allocator << BLOCK_SIZE_BITS | block->size;
        return 0;
    }
    uint64_t index = analysis->free_block;
    if (index != NO_FREE_BLOCK) {
        analysis->free_block = side_blocks(analysis)[index].size;
    } else if (byte_buffer_append(&analysis->blocks, block, sizeof *block) < 0) {
        return -1;
    } else {
        index = analysis->blocks.size / sizeof *block - 1;
    }
    side_blocks(analysis)[index] = *block;
    *value = BLOCK_IN_SIDE_ARRAY << BLOCK_STACK_SHIFT | index;
    return 0;
}

/* Removes the block a map value describes from the live figures, and frees
 * its side slot if it has one. */
static void block_forget(struct capture_analysis *analysis, uint64_t value)
{
    struct live_block block = block_decode(analysis, value);
    live_remove(analysis, block.stack_id, block.size, 1);
    if (value >> BLOCK_STACK_SHIFT == BLOCK_IN_SIDE_ARRAY) {
        uint64_t index = value & BLOCK_LOW_MASK;
        side_blocks(analysis)[index].size = analysis->free_block;
        analysis->free_block = index;
    }
}

/* Releases the block at address in map, if any. Returns 1 when one was
 * released, 0 when the address held nothing. */
static int block_release(struct capture_analysis *analysis, struct hash_map *map, uint64_t address)
{
    uint64_t value;
    if (!hash_map_remove(map, address, &value)) {
        return 0;
    }
    block_forget(analysis, value);
    return 1;
}

/*
 * Records a new live block; one still live at its address is replaced (its
 * free was not seen). The address 2^64 - 1, which no allocator returns and
 * the map cannot hold, is counted in the totals but not kept live. Returns
 * 0, or -1 when memory ran out.
 */
static int block_add(struct capture_analysis *analysis, struct hash_map *map,
                     const struct capture_record *record, uint64_t event_index)
{
    if (record->address == HASH_MAP_EMPTY_KEY) {
        return 0;
    }
    struct live_block block = {record->size, record->stack_id, record->allocator};
    uint64_t value;
    if (block_encode(analysis, &block, &value) < 0) {
        return -1;
    }
    uint64_t *existing = hash_map_find(map, record->address);
    if (existing) {
        uint64_t replaced = *existing;
        *existing = value;
        block_forget(analysis, replaced);
    } else if (hash_map_put(map, record->address, value) < 0) {
        return -1;
    }
    live_add(analysis, record->stack_id, record->size, 1, event_index);
    return 0;
}

/* --- anonymous mappings: a treap of non-overlapping regions ----------------- */

static struct region_node *region_nodes(const struct region_tree *tree)
{
    return (struct region_node *)tree->nodes.data;
}

/* Makes sure tree->spare holds a free node. Returns 0 or -1 (no memory). */
static int region_reserve_spare(struct region_tree *tree)
{
    if (tree->spare) {
        return 0;
    }
    if (tree->free_list) {
        tree->spare = tree->free_list;
        tree->free_list = region_nodes(tree)[tree->spare].left;
        return 0;
    }
    struct region_node empty;
    memset(&empty, 0, sizeof empty);
    size_t count = tree->nodes.size / sizeof empty;
    if (count == 0 && byte_buffer_append(&tree->nodes, &empty, sizeof empty) < 0) {
        return -1;
    }
    count = tree->nodes.size / sizeof empty;
    if (count >= UINT32_MAX || byte_buffer_append(&tree->nodes, &empty, sizeof empty) < 0) {
        return -1;
    }
    tree->spare = (uint32_t)count;
    return 0;
}

/* Takes the spare node as a new single-node tree holding the given region. */
static uint32_t region_take_spare(struct region_tree *tree, uint64_t start, uint64_t size,
                                  uint32_t stack_id, uint32_t allocator)
{
    uint32_t index = tree->spare;
    tree->spare = 0;
    struct region_node *node = &region_nodes(tree)[index];
    node->start = start;
    node->size = size;
    node->stack_id = stack_id;
    node->allocator = allocator;
    node->left = node->right = 0;
    node->priority = (uint32_t)hash_map_mix(++tree->created);
    return index;
}

/* Splits subtree into the nodes starting before key and the rest. */
static void region_split(struct region_node *nodes, uint32_t subtree, uint64_t key,
                         uint32_t *before, uint32_t *rest)
{
    if (!subtree) {
        *before = *rest = 0;
    } else if (nodes[subtree].start < key) {
        region_split(nodes, nodes[subtree].right, key, &nodes[subtree].right, rest);
        *before = subtree;
    } else {
        region_split(nodes, nodes[subtree].left, key, before, &nodes[subtree].left);
        *rest = subtree;
    }
}

/* Joins two subtrees where every start in left precedes every one in right. */
static uint32_t region_merge(struct region_node *nodes, uint32_t left, uint32_t right)
{
    if (!left || !right) {
        return left ? left : right;
    }
    if (nodes[left].priority > nodes[right].priority) {
        nodes[left].right = region_merge(nodes, nodes[left].right, right);
        return left;
    }
    nodes[right].left = region_merge(nodes, left, nodes[right].left);
    return right;
}

/* Region end, saturating at the top of the address space. */
static uint64_t region_end(uint64_t start, uint64_t size)
{
    return size > UINT64_MAX - start ? UINT64_MAX : start + size;
}

/* Cuts [start, end) out of the last region of before (the one starting
 * last), which may stick into the range; a part beyond end becomes the
 * spare node, merged into *after. Returns 1 when bytes were released. */
static int region_cut_predecessor(struct capture_analysis *analysis, uint32_t before,
                                  uint64_t start, uint64_t end, uint32_t *after)
{
    struct region_tree *tree = &analysis->regions;
    struct region_node *nodes = region_nodes(tree);
    uint32_t last = before;
    while (last && nodes[last].right) {
        last = nodes[last].right;
    }
    if (!last || region_end(nodes[last].start, nodes[last].size) <= start) {
        return 0;
    }
    struct region_node *node = &nodes[last];
    uint64_t node_end = region_end(node->start, node->size);
    uint64_t cut_end = node_end < end ? node_end : end;
    live_remove(analysis, node->stack_id, cut_end - start, 0);
    node->size = start - node->start;
    if (node_end > end) {
        uint32_t tail = region_take_spare(tree, end, node_end - end, node->stack_id,
                                          node->allocator);
        live_split(analysis, node->stack_id);
        *after = region_merge(nodes, tail, *after);
    }
    return 1;
}

/* Releases every region of subtree (all start inside [.., end)); the one
 * reaching past end keeps its part beyond end, merged into *after. */
static void region_release_inside(struct capture_analysis *analysis, uint32_t subtree,
                                  uint64_t end, uint32_t *after)
{
    if (!subtree) {
        return;
    }
    struct region_tree *tree = &analysis->regions;
    struct region_node *nodes = region_nodes(tree);
    region_release_inside(analysis, nodes[subtree].left, end, after);
    region_release_inside(analysis, nodes[subtree].right, end, after);
    struct region_node *node = &nodes[subtree];
    uint64_t node_end = region_end(node->start, node->size);
    if (node_end > end) {
        live_remove(analysis, node->stack_id, end - node->start, 0);
        node->size = node_end - end;
        node->start = end;
        node->left = node->right = 0;
        *after = region_merge(nodes, subtree, *after);
        return;
    }
    live_remove(analysis, node->stack_id, node->size, 1);
    node->left = tree->free_list;
    tree->free_list = subtree;
}

/* Unmaps [start, start + size) from the tracked mappings. Returns 1 when
 * bytes were released, 0 when none, -1 when memory ran out. */
static int regions_unmap(struct capture_analysis *analysis, uint64_t start, uint64_t size)
{
    struct region_tree *tree = &analysis->regions;
    if (size == 0 || !tree->root) {
        return 0;
    }
    if (region_reserve_spare(tree) < 0) {
        return -1;
    }
    uint64_t end = region_end(start, size);
    struct region_node *nodes = region_nodes(tree);
    uint32_t before, rest, inside, after;
    region_split(nodes, tree->root, start, &before, &rest);
    region_split(nodes, rest, end, &inside, &after);
    int released = region_cut_predecessor(analysis, before, start, end, &after);
    released |= inside != 0;
    region_release_inside(analysis, inside, end, &after);
    tree->root = region_merge(nodes, before, after);
    return released;
}

/* Maps a new region, replacing whatever it overlaps. Returns 0 or -1. */
static int regions_map(struct capture_analysis *analysis, const struct capture_record *record,
                       uint64_t event_index)
{
    struct region_tree *tree = &analysis->regions;
    uint64_t size = region_end(record->address, record->size) - record->address;
    if (size == 0) {
        return 0;
    }
    if (regions_unmap(analysis, record->address, size) < 0 || region_reserve_spare(tree) < 0) {
        return -1;
    }
    struct region_node *nodes = region_nodes(tree);
    uint32_t before, after;
    region_split(nodes, tree->root, record->address, &before, &after);
    uint32_t node = region_take_spare(tree, record->address, size, record->stack_id,
                                      record->allocator);
    tree->root = region_merge(nodes, region_merge(nodes, before, node), after);
    live_add(analysis, record->stack_id, size, 1, event_index);
    return 0;
}

static void region_tree_release(struct region_tree *tree)
{
    byte_buffer_release(&tree->nodes);
    memset(tree, 0, sizeof *tree);
}

/* --- the pass ------------------------------------------------------------------ */

unsigned analysis_histogram_bucket(uint64_t size)
{
    return size ? 64u - (unsigned)__builtin_clzll(size) : 0u;
}

void analysis_histogram_bounds(unsigned bucket, uint64_t *min, uint64_t *max)
{
    if (bucket == 0 || bucket >= ANALYSIS_HISTOGRAM_BUCKETS) {
        *min = *max = 0;
        return;
    }
    *min = UINT64_C(1) << (bucket - 1);
    *max = bucket == 64 ? UINT64_MAX : (UINT64_C(1) << bucket) - 1;
}

/* Takes an allocation. Returns 0 or -1 when memory ran out. */
static int analysis_allocation(struct capture_analysis *analysis,
                               const struct capture_record *record, uint64_t event_index)
{
    if (stack_reserve(analysis, record->stack_id) < 0) {
        return -1;
    }
    if (stack_threads_add(&analysis->stack_threads, record->stack_id, record->thread_id) < 0) {
        return -1;
    }
    struct analysis_summary *summary = &analysis->summary;
    summary->allocation_count++;
    summary->allocated_bytes += record->size;
    summary->allocators[record->allocator].count++;
    summary->allocators[record->allocator].bytes += record->size;
    summary->histogram[analysis_histogram_bucket(record->size)]++;
    struct stack_state *state = &stack_states(analysis)[record->stack_id];
    state->total_bytes += record->size;
    state->total_count++;
    if (record->native_stack_id && record->size >= state->native_largest_size) {
        state->native_largest_size = record->size;
        state->native_stack_id = record->native_stack_id;
    }
    switch (record->allocator) {
    case ALLOCATOR_MMAP:
    case ALLOCATOR_MREMAP:
        return regions_map(analysis, record, event_index);
    case ALLOCATOR_PYMALLOC:
        return block_add(analysis, &analysis->pymalloc_blocks, record, event_index);
    default:
        return block_add(analysis, &analysis->malloc_blocks, record, event_index);
    }
}

/* Takes a free, pymalloc free or munmap. Returns 0 or -1 (no memory). */
static int analysis_release(struct capture_analysis *analysis, const struct capture_record *record)
{
    int released;
    if (record->kind == CAPTURE_RECORD_FREE) {
        released = block_release(analysis, &analysis->malloc_blocks, record->address);
    } else if (record->kind == CAPTURE_RECORD_PYMALLOC_FREE) {
        released = block_release(analysis, &analysis->pymalloc_blocks, record->address);
    } else {
        released = regions_unmap(analysis, record->address, record->size);
    }
    if (released < 0) {
        return -1;
    }
    if (released) {
        analysis->summary.free_count++;
    } else {
        analysis->summary.unmatched_frees++;
    }
    return 0;
}

static void analysis_time(struct capture_analysis *analysis, uint64_t time_ns)
{
    analysis->last_time_ns = time_ns;
    if (analysis->peak_time_pending) {
        analysis->summary.peak_time_ns = time_ns;
        analysis->peak_time_pending = 0;
    }
}

static int analysis_rss(struct capture_analysis *analysis, const struct capture_record *record)
{
    struct analysis_rss_sample sample = {analysis->last_time_ns, record->rss_bytes};
    if (byte_buffer_append(&analysis->rss_samples, &sample, sizeof sample) < 0) {
        return -1;
    }
    struct analysis_summary *summary = &analysis->summary;
    summary->rss_sample_count++;
    if (record->rss_bytes > summary->rss_peak_bytes) {
        summary->rss_peak_bytes = record->rss_bytes;
    }
    return 0;
}

static void analysis_gc(struct capture_analysis *analysis, const struct capture_record *record)
{
    struct analysis_summary *summary = &analysis->summary;
    struct analysis_gc_generation *generation = &summary->gc_generations[record->gc_generation];
    summary->gc_collections++;
    summary->gc_pause_ns += record->gc_duration_ns;
    generation->collections++;
    generation->collected += record->gc_collected;
    generation->uncollectable += record->gc_uncollectable;
    generation->pause_ns += record->gc_duration_ns;
}

/* Takes one event. Returns 0 or -1 when memory ran out. */
static int analysis_take(struct capture_analysis *analysis, const struct capture_record *record,
                         uint64_t event_index)
{
    switch (record->kind) {
    case CAPTURE_RECORD_ALLOCATION:
        return analysis_allocation(analysis, record, event_index);
    case CAPTURE_RECORD_FREE:
    case CAPTURE_RECORD_PYMALLOC_FREE:
    case CAPTURE_RECORD_MUNMAP:
        return analysis_release(analysis, record);
    case CAPTURE_RECORD_TIME:
        analysis_time(analysis, record->time_ns);
        return 0;
    case CAPTURE_RECORD_RSS:
        return analysis_rss(analysis, record);
    case CAPTURE_RECORD_GC:
        analysis_gc(analysis, record);
        return 0;
    case CAPTURE_RECORD_SNAPSHOT:
        analysis->summary.snapshot_count++;
        return 0;
    case CAPTURE_RECORD_SAMPLING:
        return 0; /* the estimator follows the scheme */
    }
    return 0;
}

/* --- after the pass ---------------------------------------------------------------- */

static void untracked_rss_recompute(struct capture_analysis *analysis);

/* Sets the end time, the peak time still pending, leaks and untracked RSS. */
static void analysis_finish_summary(struct capture_analysis *analysis)
{
    struct analysis_summary *summary = &analysis->summary;
    const struct capture_footer *footer = capture_reader_footer(analysis->reader);
    summary->end_time_ns = analysis->last_time_ns;
    if (footer->has_end_time && footer->end_time_ns > summary->end_time_ns) {
        summary->end_time_ns = footer->end_time_ns;
    }
    if (analysis->peak_time_pending) {
        summary->peak_time_ns = summary->end_time_ns;
    }
    summary->leaked_bytes = analysis->heap_bytes;
    summary->leaked_count = analysis->heap_count;
    untracked_rss_recompute(analysis);
}

/* Sets the untracked RSS: the sample nearest the peak time minus the peak. */
static void untracked_rss_recompute(struct capture_analysis *analysis)
{
    struct analysis_summary *summary = &analysis->summary;
    size_t count;
    const struct analysis_rss_sample *samples = capture_analysis_rss_samples(analysis, &count);
    const struct analysis_rss_sample *nearest = NULL;
    uint64_t nearest_distance = UINT64_MAX;
    for (size_t index = 0; index < count; index++) {
        uint64_t time = samples[index].time_ns;
        uint64_t peak = summary->peak_time_ns;
        uint64_t distance = time > peak ? time - peak : peak - time;
        if (distance < nearest_distance) {
            nearest = &samples[index];
            nearest_distance = distance;
        }
    }
    if (nearest) {
        summary->has_untracked_rss = 1;
        summary->untracked_rss_bytes =
            nearest->rss_bytes > summary->peak_bytes ? nearest->rss_bytes - summary->peak_bytes : 0;
    }
}

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

static int compare_u32(uint32_t left, uint32_t right)
{
    return left < right ? -1 : left > right;
}

static int location_member_compare(const void *left_pointer, const void *right_pointer)
{
    const struct location_member *left = left_pointer;
    const struct location_member *right = right_pointer;
    int order = compare_u32((uint32_t)right->no_python_frame, (uint32_t)left->no_python_frame);
    if (!order) {
        order = compare_u32(left->function_sid, right->function_sid);
    }
    if (!order) {
        order = compare_u32(left->file_sid, right->file_sid);
    }
    return order ? order : compare_u32(left->line, right->line);
}

static uint64_t rounded(double value)
{
    return value > 0 ? (uint64_t)llround(value) : 0;
}

static void estimate_accumulate(struct estimate *into, const struct estimate *part)
{
    into->bytes += part->bytes;
    into->count += part->count;
    into->bytes_variance += part->bytes_variance;
    into->observed_bytes += part->observed_bytes;
}

/* Adds a stack's estimated figures to its location (sampled captures). */
static void location_add_estimates(const struct capture_analysis *analysis,
                                   struct analysis_location *location, uint32_t stack_id)
{
    struct estimate peak, total, leaked;
    capture_estimates_stack(analysis->estimates, stack_id, &peak, &total, &leaked);
    estimate_accumulate(&location->estimated_peak, &peak);
    estimate_accumulate(&location->estimated_total, &total);
    estimate_accumulate(&location->estimated_leaked, &leaked);
    location->peak_bytes = rounded(location->estimated_peak.bytes);
    location->peak_count = rounded(location->estimated_peak.count);
    location->total_bytes = rounded(location->estimated_total.bytes);
    location->total_count = rounded(location->estimated_total.count);
    location->leaked_bytes = rounded(location->estimated_leaked.bytes);
    location->leaked_count = rounded(location->estimated_leaked.count);
}

/* Replaces the summary's figures with the estimates of the whole. */
static void summary_take_estimates(struct capture_analysis *analysis)
{
    capture_estimates_finish(analysis->estimates);
    const struct estimate_summary *estimated = capture_estimates_summary(analysis->estimates);
    struct analysis_summary *summary = &analysis->summary;
    summary->sampled = 1;
    summary->estimated_allocated = estimated->allocated;
    summary->estimated_at_peak = estimated->at_peak;
    summary->estimated_leaked = estimated->leaked;
    summary->allocation_count = rounded(estimated->allocated.count);
    summary->allocated_bytes = rounded(estimated->allocated.bytes);
    summary->peak_bytes = rounded(estimated->at_peak.bytes);
    summary->peak_count = rounded(estimated->at_peak.count);
    summary->peak_event_index = estimated->peak_event_index;
    summary->peak_time_ns =
        estimated->peak_time_pending ? summary->end_time_ns : estimated->peak_time_ns;
    summary->leaked_bytes = rounded(estimated->leaked.bytes);
    summary->leaked_count = rounded(estimated->leaked.count);
    for (int allocator = 0; allocator < ALLOCATOR_COUNT; allocator++) {
        summary->allocators[allocator].count = rounded(estimated->allocators[allocator].count);
        summary->allocators[allocator].bytes = rounded(estimated->allocators[allocator].bytes);
    }
    for (int bucket = 0; bucket < ANALYSIS_HISTOGRAM_BUCKETS; bucket++) {
        summary->histogram[bucket] = rounded(estimated->histogram[bucket]);
    }
}

/* Adds a stack's figures to its location. */
static void location_add_stack(const struct capture_analysis *analysis,
                               struct analysis_location *location, uint32_t stack_id)
{
    const struct stack_state *state = &stack_states(analysis)[stack_id];
    if (state->native_stack_id && state->native_largest_size >= location->native_largest_size) {
        location->native_largest_size = state->native_largest_size;
        location->native_stack_id = state->native_stack_id;
        location->native_python_stack_id = stack_id;
    }
    if (analysis->estimates) {
        location_add_estimates(analysis, location, stack_id);
        return;
    }
    uint64_t peak_bytes, peak_count;
    stack_at_peak(analysis, state, &peak_bytes, &peak_count);
    location->peak_bytes += peak_bytes;
    location->peak_count += peak_count;
    location->total_bytes += state->total_bytes;
    location->total_count += state->total_count;
    location->leaked_bytes += state->live_bytes;
    location->leaked_count += state->live_count;
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

/* stack_threads_each visitor: lists thread_id at its stack's location. */
static void location_add_thread(uint32_t stack_id, uint64_t thread_id, void *context)
{
    struct thread_assignment *assignment = context;
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

/* Fills each location's thread list from the (stack, thread) pairs; members
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
    stack_threads_each(&analysis->stack_threads, location_add_thread, &assignment);
    tracker_free(location_of_stack, size ? size : 1);
    return 0;
}

/* Builds the locations from every stack that allocated. Returns 0 or -1. */
static int analysis_build_locations(struct capture_analysis *analysis)
{
    const struct stack_state *states = stack_states(analysis);
    size_t used = 0;
    for (size_t stack_id = 0; stack_id < analysis->stack_capacity; stack_id++) {
        used += states[stack_id].total_count > 0;
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
        if (states[stack_id].total_count > 0) {
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

/* --- aggregate captures (--aggregate) ------------------------------------------------ */

/* Takes the figures of an aggregated snapshot instead of replayed events:
 * each stack's live, at-peak and total figures, and the summary's totals.
 * Returns 0, or -1 when memory ran out. */
static int analysis_take_aggregate(struct capture_analysis *analysis,
                                   const struct capture_aggregate *aggregate)
{
    for (size_t index = 0; index < aggregate->stack_count; index++) {
        const struct capture_aggregate_stack *stack = &aggregate->stacks[index];
        if (stack_reserve(analysis, stack->stack_id) < 0) {
            return -1;
        }
        struct stack_state *state = &stack_states(analysis)[stack->stack_id];
        state->live_bytes = stack->live_bytes;
        state->live_count = stack->live_count;
        state->total_bytes = stack->total_bytes;
        state->total_count = stack->total_count;
        state->peak_bytes = stack->peak_bytes;
        state->peak_count = stack->peak_count;
        state->changed_in_epoch = analysis->epoch; /* peak_* hold the peak */
    }
    struct analysis_summary *summary = &analysis->summary;
    summary->aggregated = 1;
    summary->allocation_count = aggregate->allocation_count;
    summary->allocated_bytes = aggregate->allocated_bytes;
    summary->free_count = aggregate->free_count;
    summary->peak_bytes = aggregate->peak_bytes;
    summary->peak_count = aggregate->peak_count;
    summary->peak_time_ns = aggregate->peak_time_ns;
    analysis->heap_bytes = aggregate->current_bytes;
    analysis->heap_count = aggregate->current_count;
    if (aggregate->time_ns > analysis->last_time_ns) {
        analysis->last_time_ns = aggregate->time_ns;
    }
    return 0;
}

/* Sampled aggregate captures: takes the snapshot's estimates of the whole
 * into the estimator (which saw no allocation records). A sampled capture
 * whose snapshot has no estimates keeps its recorded figures. Returns 0, or
 * -1 when memory ran out. */
static int analysis_take_aggregate_estimates(struct capture_analysis *analysis,
                                             const struct capture_aggregate *aggregate)
{
    if (!analysis->estimates) {
        return 0;
    }
    if (!aggregate->estimated) {
        capture_estimates_free(analysis->estimates);
        analysis->estimates = NULL;
        return 0;
    }
    return capture_estimates_take_aggregate(analysis->estimates, aggregate,
                                            aggregate->peak_time_ns);
}

/* --- the public API ---------------------------------------------------------------- */

static void error_out_of_memory(struct capture_error *error)
{
    error->os_errno = ENOMEM;
    strcpy(error->message, "out of memory");
}

struct capture_analysis *capture_analysis_run(struct capture_reader *reader,
                                              struct capture_error *error)
{
    struct capture_analysis *analysis = tracker_calloc(1, sizeof *analysis);
    if (!analysis) {
        error_out_of_memory(error);
        return NULL;
    }
    analysis->reader = reader;
    analysis->free_block = NO_FREE_BLOCK;
    hash_map_init(&analysis->malloc_blocks);
    hash_map_init(&analysis->pymalloc_blocks);
    stack_threads_init(&analysis->stack_threads);
    struct capture_record record;
    uint64_t event_index = 0;
    int status;
    const struct capture_header *header = capture_reader_header(reader);
    if (header->sample_interval || header->sample_rate < 1.0) {
        analysis->estimates = capture_estimates_new(header);
        if (!analysis->estimates) {
            goto out_of_memory;
        }
    }
    while ((status = capture_reader_next(reader, &record)) == 1) {
        if ((analysis->estimates &&
             capture_estimates_take(analysis->estimates, &record, event_index) < 0) ||
            analysis_take(analysis, &record, event_index) < 0) {
            goto out_of_memory;
        }
        event_index++;
    }
    if (status < 0) {
        *error = *capture_reader_error(reader);
        goto fail;
    }
    analysis->summary.event_count = event_index;
    if (capture_reader_aggregate(reader) &&
        (analysis_take_aggregate(analysis, capture_reader_aggregate(reader)) < 0 ||
         analysis_take_aggregate_estimates(analysis, capture_reader_aggregate(reader)) < 0)) {
        goto out_of_memory;
    }
    analysis_finish_summary(analysis);
    if (analysis->estimates) {
        summary_take_estimates(analysis);
        untracked_rss_recompute(analysis);
    }
    if (analysis_build_locations(analysis) < 0) {
        goto out_of_memory;
    }
    return analysis;
out_of_memory:
    error_out_of_memory(error);
fail:
    capture_analysis_free(analysis);
    return NULL;
}

void capture_analysis_free(struct capture_analysis *analysis)
{
    if (!analysis) {
        return;
    }
    capture_estimates_free(analysis->estimates);
    byte_buffer_release(&analysis->stacks);
    byte_buffer_release(&analysis->blocks);
    byte_buffer_release(&analysis->rss_samples);
    byte_buffer_release(&analysis->locations);
    hash_map_release(&analysis->malloc_blocks);
    hash_map_release(&analysis->pymalloc_blocks);
    stack_threads_release(&analysis->stack_threads);
    region_tree_release(&analysis->regions);
    tracker_free(analysis, sizeof *analysis);
}

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

const struct analysis_rss_sample *capture_analysis_rss_samples(
    const struct capture_analysis *analysis, size_t *count)
{
    *count = analysis->rss_samples.size / sizeof(struct analysis_rss_sample);
    return (const struct analysis_rss_sample *)analysis->rss_samples.data;
}

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

static int compare_u64_descending(uint64_t left, uint64_t right)
{
    return left > right ? -1 : left < right;
}

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
        order = compare_u32(left->line, right->line);
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
    int order = by_count ? compare_u64_descending(left_count, right_count)
                         : compare_u64_descending(left_bytes, right_bytes);
    if (!order) {
        order = by_count ? compare_u64_descending(left_bytes, right_bytes)
                         : compare_u64_descending(left_count, right_count);
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

static int stack_entry_compare(const void *left_pointer, const void *right_pointer)
{
    const struct analysis_stack_entry *left = left_pointer;
    const struct analysis_stack_entry *right = right_pointer;
    int order = compare_u64_descending(left->bytes, right->bytes);
    if (!order) {
        order = compare_u64_descending(left->count, right->count);
    }
    return order ? order : compare_u32(left->stack_id, right->stack_id);
}

/* A stack's figures in a view. */
static void stack_view_figures(const struct capture_analysis *analysis, uint32_t stack_id,
                               enum analysis_stack_view view, uint64_t *bytes, uint64_t *count)
{
    const struct stack_state *state = &stack_states(analysis)[stack_id];
    if (view == ANALYSIS_STACKS_AT_PEAK) {
        stack_at_peak(analysis, state, bytes, count);
    } else {
        *bytes = state->live_bytes;
        *count = state->live_count;
    }
}

int capture_analysis_stack_entries(const struct capture_analysis *analysis,
                                   enum analysis_stack_view view,
                                   struct analysis_stack_entry **entries, size_t *count)
{
    size_t used = 0;
    for (size_t stack_id = 0; stack_id < analysis->stack_capacity; stack_id++) {
        uint64_t bytes, blocks;
        stack_view_figures(analysis, (uint32_t)stack_id, view, &bytes, &blocks);
        used += bytes || blocks;
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
        struct analysis_stack_entry entry = {(uint32_t)stack_id, 0, 0};
        stack_view_figures(analysis, (uint32_t)stack_id, view, &entry.bytes, &entry.count);
        if (entry.bytes || entry.count) {
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

const struct capture_estimates *capture_analysis_estimates(const struct capture_analysis *analysis)
{
    return analysis->estimates;
}
