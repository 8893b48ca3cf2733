/* The live heap of the analysis: per-stack figures with the lazy peak
 * snapshot, malloc-family and pymalloc blocks by address, and anonymous
 * mappings in a treap. */
#include "core/analysis/capture_analysis_internal.h"

#include <string.h>

#include "core/base/byte_buffer.h"
#include "core/base/hash_map.h"

/* --- per-stack figures ---------------------------------------------------- */

/* Makes room for stack_id; returns 0 or -1 when memory ran out. */
int analysis_heap_stack_reserve(struct capture_analysis *analysis, uint32_t stack_id)
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
    struct stack_state *state = &analysis_stack_states(analysis)[stack_id];
    if (state->changed_in_epoch != analysis->epoch) {
        state->peak_bytes = state->live_bytes;
        state->peak_count = state->live_count;
        state->changed_in_epoch = analysis->epoch;
    }
    return state;
}

/* Returns the stack's figures at the peak. */
void analysis_heap_stack_at_peak(const struct capture_analysis *analysis,
                                 const struct stack_state *state, uint64_t *bytes,
                                 uint64_t *count)
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
int analysis_heap_block_release(struct capture_analysis *analysis, struct hash_map *map,
                                uint64_t address)
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
int analysis_heap_block_add(struct capture_analysis *analysis, struct hash_map *map,
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
int analysis_heap_regions_unmap(struct capture_analysis *analysis, uint64_t start, uint64_t size)
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
int analysis_heap_regions_map(struct capture_analysis *analysis,
                              const struct capture_record *record, uint64_t event_index)
{
    struct region_tree *tree = &analysis->regions;
    uint64_t size = region_end(record->address, record->size) - record->address;
    if (size == 0) {
        return 0;
    }
    if (analysis_heap_regions_unmap(analysis, record->address, size) < 0 ||
        region_reserve_spare(tree) < 0) {
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

void analysis_heap_region_tree_release(struct region_tree *tree)
{
    byte_buffer_release(&tree->nodes);
    memset(tree, 0, sizeof *tree);
}
