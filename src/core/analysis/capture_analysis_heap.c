/* The live heap of the analysis, the one model of what is alive that every
 * figure comes from: malloc-family and pymalloc blocks by address, and
 * anonymous mappings in a treap. Each block belongs to a context
 * (analysis_contexts.c), which its share is added to and removed from. */
#include "core/analysis/capture_analysis_internal.h"

#include <string.h>

#include "core/base/byte_buffer.h"
#include "core/base/hash_map.h"

/* Adds a block's share to its context. */
static void block_live_add(struct capture_analysis *analysis, const struct live_block *block)
{
    struct estimate share = analysis_block_share(block->size, block->weight);
    analysis_live_add(analysis, block->context, &share, 1);
}

/* A block's life ends: its share leaves, and the timeline hears of it. */
static int block_end(struct capture_analysis *analysis, const struct live_block *block)
{
    struct estimate share = analysis_block_share(block->size, block->weight);
    analysis_live_remove(analysis, block->context, &share, 1);
    return analysis_timeline_block_end(analysis, block);
}

/* A block keeps living at new_size bytes (a mapping trimmed): its
 * context's share follows; the block count stays. */
static void block_resize(struct capture_analysis *analysis, const struct live_block *block,
                         uint64_t new_size)
{
    struct estimate before = analysis_block_share(block->size, block->weight);
    struct estimate after = analysis_block_share(new_size, block->weight);
    before.count = after.count = 0;
    analysis_live_remove(analysis, block->context, &before, 0);
    analysis_live_add(analysis, block->context, &after, 0);
}

/* --- malloc-family and pymalloc blocks --------------------------------------- */

/*
 * A live block of weight 1 whose lifetime is not followed is kept in its
 * map's value: size in bits 0-35, allocator in 36-39, context in 40-63.
 * Any other block (a size of 64 GiB or more, a context index of 2^24 - 1 or
 * more, a sampled block, lifetimes followed) goes to the side array, and
 * the value holds BLOCK_IN_SIDE_ARRAY in the context bits and its index
 * below. Packing saves a memory access per free and most of the memory.
 */
#define BLOCK_SIZE_BITS 36
#define BLOCK_CONTEXT_SHIFT 40
#define BLOCK_IN_SIDE_ARRAY UINT64_C(0xFFFFFF)
#define BLOCK_LOW_MASK ((UINT64_C(1) << BLOCK_CONTEXT_SHIFT) - 1)
#define FREE_SIDE_SLOT UINT32_MAX /* the context of a side slot on the free list */

static struct live_block *side_blocks(const struct capture_analysis *analysis)
{
    return (struct live_block *)analysis->blocks.data;
}

/* Returns the block a map value describes. */
static struct live_block block_decode(const struct capture_analysis *analysis, uint64_t value)
{
    if (value >> BLOCK_CONTEXT_SHIFT == BLOCK_IN_SIDE_ARRAY) {
        return side_blocks(analysis)[value & BLOCK_LOW_MASK];
    }
    struct live_block block = {value & ((UINT64_C(1) << BLOCK_SIZE_BITS) - 1),
                               (uint32_t)(value >> BLOCK_CONTEXT_SHIFT),
                               (uint32_t)(value >> BLOCK_SIZE_BITS) & 0xF, 0, 0, 1.0};
    return block;
}

static int block_packs(const struct capture_analysis *analysis, const struct live_block *block)
{
    return !analysis->keep_lifetimes && block->weight == 1.0 &&
           block->size >> BLOCK_SIZE_BITS == 0 && block->context < BLOCK_IN_SIDE_ARRAY;
}

/* Makes the map value of block in *value, using a side slot when needed.
 * Returns 0, or -1 when memory ran out. */
static int block_encode(struct capture_analysis *analysis, const struct live_block *block,
                        uint64_t *value)
{
    if (block_packs(analysis, block)) {
        *value = (uint64_t)block->context << BLOCK_CONTEXT_SHIFT |
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
    *value = BLOCK_IN_SIDE_ARRAY << BLOCK_CONTEXT_SHIFT | index;
    return 0;
}

/* Ends the life of the block a map value describes, and frees its side
 * slot if it has one. Returns 0 or -1 (no memory). */
static int block_forget(struct capture_analysis *analysis, uint64_t value)
{
    struct live_block block = block_decode(analysis, value);
    if (value >> BLOCK_CONTEXT_SHIFT == BLOCK_IN_SIDE_ARRAY) {
        uint64_t index = value & BLOCK_LOW_MASK;
        side_blocks(analysis)[index].context = FREE_SIDE_SLOT;
        side_blocks(analysis)[index].size = analysis->free_block;
        analysis->free_block = index;
    }
    return block_end(analysis, &block);
}

int analysis_heap_block_release(struct capture_analysis *analysis, struct hash_map *map,
                                uint64_t address)
{
    uint64_t value;
    if (!hash_map_remove(map, address, &value)) {
        return 0;
    }
    return block_forget(analysis, value) < 0 ? -1 : 1;
}

/*
 * Records a new live block; one still live at its address is replaced (its
 * free was not seen). The address 2^64 - 1, which no allocator returns and
 * the map cannot hold, is counted in the totals but not kept live. Returns
 * 0, or -1 when memory ran out.
 */
int analysis_heap_block_add(struct capture_analysis *analysis, struct hash_map *map,
                            uint64_t address, const struct live_block *block)
{
    if (address == HASH_MAP_EMPTY_KEY) {
        return 0;
    }
    uint64_t value;
    if (block_encode(analysis, block, &value) < 0) {
        return -1;
    }
    int inserted;
    uint64_t *slot = hash_map_value_of(map, address, &inserted);
    if (!slot) {
        return -1;
    }
    uint64_t replaced = *slot;
    *slot = value;
    if (!inserted && block_forget(analysis, replaced) < 0) {
        return -1;
    }
    block_live_add(analysis, block);
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

/* Takes the spare node as a new single-node tree holding block at start. */
static uint32_t region_take_spare(struct region_tree *tree, uint64_t start,
                                  const struct live_block *block)
{
    uint32_t index = tree->spare;
    tree->spare = 0;
    struct region_node *node = &region_nodes(tree)[index];
    node->block = *block;
    node->start = start;
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
    if (!last || region_end(nodes[last].start, nodes[last].block.size) <= start) {
        return 0;
    }
    struct region_node *node = &nodes[last];
    uint64_t node_end = region_end(node->start, node->block.size);
    uint64_t head = start - node->start;
    block_resize(analysis, &node->block, head);
    node->block.size = head;
    if (node_end > end) {
        /* The mapping split in two counts as two live blocks from now on. */
        struct live_block tail = node->block;
        tail.size = node_end - end;
        *after = region_merge(nodes, region_take_spare(tree, end, &tail), *after);
        block_live_add(analysis, &tail);
    }
    return 1;
}

/* Releases every region of subtree (all start inside [.., end)); the one
 * reaching past end keeps its part beyond end, merged into *after. Returns
 * 0 or -1 (no memory). */
static int region_release_inside(struct capture_analysis *analysis, uint32_t subtree,
                                 uint64_t end, uint32_t *after)
{
    if (!subtree) {
        return 0;
    }
    struct region_tree *tree = &analysis->regions;
    struct region_node *nodes = region_nodes(tree);
    if (region_release_inside(analysis, nodes[subtree].left, end, after) < 0 ||
        region_release_inside(analysis, nodes[subtree].right, end, after) < 0) {
        return -1;
    }
    struct region_node *node = &nodes[subtree];
    uint64_t node_end = region_end(node->start, node->block.size);
    if (node_end > end) {
        block_resize(analysis, &node->block, node_end - end);
        node->block.size = node_end - end;
        node->start = end;
        node->left = node->right = 0;
        *after = region_merge(nodes, subtree, *after);
        return 0;
    }
    node->left = tree->free_list;
    tree->free_list = subtree;
    return block_end(analysis, &node->block);
}

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
    int status = region_release_inside(analysis, inside, end, &after);
    tree->root = region_merge(nodes, before, after);
    return status < 0 ? -1 : released;
}

int analysis_heap_regions_map(struct capture_analysis *analysis, uint64_t address,
                              const struct live_block *block)
{
    struct region_tree *tree = &analysis->regions;
    struct live_block mapped = *block;
    mapped.size = region_end(address, block->size) - address;
    if (mapped.size == 0) {
        return 0;
    }
    if (analysis_heap_regions_unmap(analysis, address, mapped.size) < 0 ||
        region_reserve_spare(tree) < 0) {
        return -1;
    }
    struct region_node *nodes = region_nodes(tree);
    uint32_t before, after;
    region_split(nodes, tree->root, address, &before, &after);
    uint32_t node = region_take_spare(tree, address, &mapped);
    tree->root = region_merge(nodes, region_merge(nodes, before, node), after);
    block_live_add(analysis, &mapped);
    return 0;
}

/* --- every live block ------------------------------------------------------------ */

static int region_each(struct capture_analysis *analysis, uint32_t subtree,
                       int (*visit)(struct capture_analysis *, const struct live_block *))
{
    if (!subtree) {
        return 0;
    }
    const struct region_node *node = &region_nodes(&analysis->regions)[subtree];
    int result = region_each(analysis, node->left, visit);
    if (!result) {
        result = visit(analysis, &node->block);
    }
    return result ? result : region_each(analysis, node->right, visit);
}

/* Blocks that packed into their map are not visited: with lifetimes kept
 * (the only analyses that ask), none does. */
int analysis_heap_each_block(struct capture_analysis *analysis,
                             int (*visit)(struct capture_analysis *, const struct live_block *))
{
    size_t count = analysis->blocks.size / sizeof(struct live_block);
    for (size_t index = 0; index < count; index++) {
        struct live_block block = side_blocks(analysis)[index];
        int result = block.context == FREE_SIDE_SLOT ? 0 : visit(analysis, &block);
        if (result) {
            return result;
        }
    }
    return region_each(analysis, analysis->regions.root, visit);
}

void analysis_heap_release(struct capture_analysis *analysis)
{
    hash_map_release(&analysis->malloc_blocks);
    hash_map_release(&analysis->pymalloc_blocks);
    byte_buffer_release(&analysis->blocks);
    byte_buffer_release(&analysis->regions.nodes);
    memset(&analysis->regions, 0, sizeof analysis->regions);
}
