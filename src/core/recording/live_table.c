#include "core/recording/live_table.h"

#include <pthread.h>
#include <string.h>

#include "core/format/capture_reader.h"
#include "core/format/capture_format.h"
#include "core/recording/event_buffer.h"
#include "core/base/hash_map.h"
#include "core/recording/stack_figures.h"
#include "core/base/tracker_memory.h"

#define FREE_SLOT_ALLOCATOR 0xFFu /* the 8-bit field's largest value */
#define NO_FREE_SLOT ((UINT64_C(1) << 48) - 1) /* fits the 48-bit size field that links free slots */

enum block_family { FAMILY_MALLOC, FAMILY_PYMALLOC, FAMILY_MAPPING, FAMILY_COUNT };

/* Everything is guarded by mutex. A free slot of blocks has allocator
 * FREE_SLOT_ALLOCATOR and links to the next free slot through size. */
static struct {
    pthread_mutex_t mutex;
    int enabled;
    struct hash_map addresses[FAMILY_COUNT]; /* address -> slot index */
    struct live_table_block *blocks;
    size_t block_count; /* slots in use or on the free list */
    size_t block_capacity;
    uint64_t free_slot;
    struct stack_figures figures;
    int keep_threads;
    struct thread_figures threads;
    uint64_t allocation_count;
    uint64_t allocated_bytes;
    uint64_t free_count;
    uint32_t sample_mode; /* CAPTURE_SAMPLING_* */
    uint64_t sample_mean;
    int sampled;
} table = {.mutex = PTHREAD_MUTEX_INITIALIZER,
           .free_slot = NO_FREE_SLOT,
           .threads = {.free_share = UINT64_MAX}};

static enum block_family family_of(uint32_t allocator)
{
    if (allocator == ALLOCATOR_PYMALLOC) {
        return FAMILY_PYMALLOC;
    }
    if (allocator == ALLOCATOR_MMAP || allocator == ALLOCATOR_MREMAP) {
        return FAMILY_MAPPING;
    }
    return FAMILY_MALLOC;
}

/* Frees every block and figure; call with the mutex held. */
static void table_empty_locked(void)
{
    for (int family = 0; family < FAMILY_COUNT; family++) {
        hash_map_release(&table.addresses[family]);
        hash_map_init(&table.addresses[family]);
    }
    tracker_free(table.blocks, table.block_capacity * sizeof *table.blocks);
    table.blocks = NULL;
    table.block_count = table.block_capacity = 0;
    table.free_slot = NO_FREE_SLOT;
    stack_figures_clear(&table.figures);
    thread_figures_clear(&table.threads);
    table.allocation_count = table.allocated_bytes = table.free_count = 0;
}

int live_table_enable(void)
{
    pthread_mutex_lock(&table.mutex);
    table_empty_locked();
    table.enabled = 1;
    table.keep_threads = 0;
    table.sample_mode = 0;
    table.sample_mean = 0;
    table.sampled = 0;
    pthread_mutex_unlock(&table.mutex);
    return 0;
}

void live_table_disable(void)
{
    pthread_mutex_lock(&table.mutex);
    table_empty_locked();
    table.enabled = 0;
    pthread_mutex_unlock(&table.mutex);
}

/* Sets the scheme; call with the mutex held. */
static void sampling_set_locked(uint32_t mode, uint64_t mean)
{
    table.sample_mode = mode;
    table.sample_mean = mean;
    table.sampled |= mode != 0;
}

void live_table_set_sampling(uint32_t mode, uint64_t mean)
{
    pthread_mutex_lock(&table.mutex);
    sampling_set_locked(mode, mean);
    pthread_mutex_unlock(&table.mutex);
}

int live_table_enabled(void)
{
    pthread_mutex_lock(&table.mutex);
    int enabled = table.enabled;
    pthread_mutex_unlock(&table.mutex);
    return enabled;
}

void live_table_lock(void)
{
    pthread_mutex_lock(&table.mutex);
}

void live_table_unlock(void)
{
    pthread_mutex_unlock(&table.mutex);
}

/* Returns a slot index for block, or NO_FREE_SLOT when memory ran out. */
static uint64_t slot_take(const struct live_table_block *block)
{
    uint64_t index = table.free_slot;
    if (index != NO_FREE_SLOT) {
        table.free_slot = table.blocks[index].size;
    } else {
        if (table.block_count == table.block_capacity) {
            size_t capacity = table.block_capacity ? table.block_capacity * 2 : 4096;
            struct live_table_block *grown =
                tracker_realloc(table.blocks, table.block_capacity * sizeof *grown,
                                capacity * sizeof *grown);
            if (!grown) {
                return NO_FREE_SLOT;
            }
            table.blocks = grown;
            table.block_capacity = capacity;
        }
        index = table.block_count++;
    }
    table.blocks[index] = *block;
    return index;
}

static void slot_give_back(uint64_t index)
{
    table.blocks[index].allocator = FREE_SLOT_ALLOCATOR;
    table.blocks[index].size = table.free_slot;
    table.free_slot = index;
}

/* Removes the block at address of a family from every figure. Returns 1
 * when there was one (its copy in *removed when not NULL), else 0. */
static int block_remove(enum block_family family, uint64_t address,
                        struct live_table_block *removed)
{
    uint64_t index;
    if (!hash_map_remove(&table.addresses[family], address, &index)) {
        return 0;
    }
    struct live_table_block block = table.blocks[index];
    stack_figures_release_weighted(&table.figures, block.stack_id, block.size, block.weight);
    if (table.keep_threads) {
        thread_figures_release(&table.threads, block.thread_id, block.stack_id, block.size);
    }
    slot_give_back(index);
    if (removed) {
        *removed = block;
    }
    return 1;
}

/* Takes back from stack_id's totals the allocation of block that
 * stack_figures_allocate_weighted counted: the block is not a new one. */
static void uncount_allocation(uint32_t stack_id, const struct live_table_block *block)
{
    struct stack_figures_entry *entry = &table.figures.entries[stack_id];
    struct weighted_amount share;
    weighted_amount_of_block(block->size, block->weight, &share);
    entry->total_bytes -= block->size;
    entry->total_count--;
    weighted_amount_add(&entry->weighted_total, &share, -1);
    weighted_amount_add(&table.figures.weighted_allocated, &share, -1);
}

/* Adds a live block (replacing one still live at its address). Totals
 * count it when counted is nonzero. */
static void block_add(const struct live_table_block *block, int counted)
{
    enum block_family family = family_of(block->allocator);
    if (block->address == HASH_MAP_EMPTY_KEY) {
        return;
    }
    block_remove(family, block->address, NULL);
    uint64_t index = slot_take(block);
    if (index == NO_FREE_SLOT) {
        return;
    }
    if (hash_map_put(&table.addresses[family], block->address, index) < 0) {
        slot_give_back(index);
        return;
    }
    if (stack_figures_allocate_weighted(&table.figures, block->stack_id, block->size,
                                        block->weight) < 0) {
        hash_map_remove(&table.addresses[family], block->address, NULL);
        slot_give_back(index);
        return;
    }
    if (table.keep_threads) {
        /* a failure leaves the thread's figures short; release ignores it */
        thread_figures_allocate(&table.threads, block->thread_id, block->stack_id, block->size);
    }
    if (!counted) {
        uncount_allocation(block->stack_id, block); /* a remainder of a trimmed mapping */
        return;
    }
    table.allocation_count++;
    table.allocated_bytes += block->size;
}

/* Gives the live block at address (any family) stack_id and total_frames,
 * moving its size from the old stack's live figures to the new one's. */
static void block_restack(uint64_t address, uint32_t stack_id, uint16_t total_frames)
{
    for (int family = 0; family < FAMILY_COUNT; family++) {
        uint64_t *index = hash_map_find(&table.addresses[family], address);
        if (!index) {
            continue;
        }
        struct live_table_block *block = &table.blocks[*index];
        if (block->stack_id != stack_id) {
            /* Released first: the heap never goes above where it was, so
             * no peak is made. The old stack's entry exists, so putting
             * the block back there cannot fail. */
            stack_figures_release_weighted(&table.figures, block->stack_id, block->size,
                                           block->weight);
            if (stack_figures_allocate_weighted(&table.figures, stack_id, block->size,
                                                block->weight) < 0) {
                stack_id = block->stack_id;
                stack_figures_allocate_weighted(&table.figures, stack_id, block->size,
                                                block->weight);
            }
            uncount_allocation(stack_id, block); /* a reuse, not an allocation */
            block->stack_id = stack_id;
        }
        block->total_frames = total_frames;
        return;
    }
}

/* Releases mappings starting at address, in turn, up to size bytes. */
static void mapping_release(uint64_t address, uint64_t size)
{
    struct live_table_block removed;
    while (size && block_remove(FAMILY_MAPPING, address, &removed)) {
        table.free_count++;
        if (removed.size > size) {
            struct live_table_block rest = removed;
            rest.address = address + size;
            rest.size = removed.size - size;
            block_add(&rest, 0);
            return;
        }
        size -= removed.size;
        address += removed.size;
    }
}

void live_table_apply(const struct recorded_event *event)
{
    live_table_apply_from_thread(event, 0);
}

void live_table_apply_from_thread(const struct recorded_event *event, uint32_t thread_id)
{
    if (!table.enabled) {
        return;
    }
    switch (event->kind) {
    case EVENT_ALLOCATION: {
        double probability = capture_sampling_keep_probability(
            table.sample_mode, table.sample_mean, event->size);
        uint32_t bounded = thread_id > THREAD_FIGURES_MAX_THREAD_ID ? THREAD_FIGURES_MAX_THREAD_ID
                                                                    : thread_id;
        struct live_table_block block = {.address = event->address,
                                         .size = event->size,
                                         .stack_id = event->value,
                                         .allocator = event->allocator,
                                         .thread_id = bounded,
                                         .total_frames = event->total_frames,
                                         .weight = 1.0 / probability};
        block_add(&block, 1);
        break;
    }
    case EVENT_NEW_REFERENCE:
        block_restack(event->address, event->value, event->total_frames);
        break;
    case EVENT_THREAD_NAME:
        if (table.keep_threads) {
            thread_figures_name(&table.threads, thread_id, event->value);
        }
        break;
    case EVENT_SAMPLING:
        sampling_set_locked(event->allocator, event->size);
        break;
    case EVENT_FREE:
        table.free_count += (uint64_t)block_remove(FAMILY_MALLOC, event->address, NULL);
        break;
    case EVENT_FREE_PYMALLOC:
        table.free_count += (uint64_t)block_remove(FAMILY_PYMALLOC, event->address, NULL);
        break;
    case EVENT_MUNMAP:
        mapping_release(event->address, event->size);
        break;
    default:
        break;
    }
}

void live_table_get_totals(struct live_table_totals *totals)
{
    pthread_mutex_lock(&table.mutex);
    totals->current_bytes = table.figures.heap_bytes;
    totals->current_count = table.figures.heap_count;
    totals->peak_bytes = table.figures.peak_bytes;
    totals->peak_count = table.figures.peak_count;
    totals->allocation_count = table.allocation_count;
    totals->allocated_bytes = table.allocated_bytes;
    totals->free_count = table.free_count;
    totals->sampled = table.sampled;
    totals->weighted_heap = table.figures.weighted_heap;
    totals->weighted_peak = table.figures.weighted_peak;
    totals->weighted_allocated = table.figures.weighted_allocated;
    pthread_mutex_unlock(&table.mutex);
}

int live_table_copy_blocks(struct live_table_block **blocks, size_t *count)
{
    pthread_mutex_lock(&table.mutex);
    size_t live = 0;
    for (int family = 0; family < FAMILY_COUNT; family++) {
        live += table.addresses[family].count;
    }
    struct live_table_block *copy = tracker_malloc((live ? live : 1) * sizeof *copy);
    size_t stored = 0;
    for (size_t index = 0; copy && index < table.block_count && stored < live; index++) {
        if (table.blocks[index].allocator != FREE_SLOT_ALLOCATOR) {
            copy[stored++] = table.blocks[index];
        }
    }
    pthread_mutex_unlock(&table.mutex);
    if (!copy) {
        return -1;
    }
    *blocks = copy;
    *count = live;
    return 0;
}

void live_table_free_blocks(struct live_table_block *blocks, size_t count)
{
    tracker_free(blocks, (count ? count : 1) * sizeof *blocks);
}

/* Nonzero when the stack has any figure worth reporting. */
static int stack_has_figures(const struct stack_figures_entry *entry, uint64_t peak_bytes,
                             uint64_t peak_count)
{
    return entry->live_count || entry->total_count || peak_bytes || peak_count;
}

/* Fills out (when not NULL) with the stacks that have figures; returns how
 * many. Call with the mutex held. */
static size_t stacks_collect_locked(struct live_table_stack *out)
{
    size_t stored = 0;
    for (uint32_t stack_id = 0; stack_id < table.figures.capacity; stack_id++) {
        const struct stack_figures_entry *entry = &table.figures.entries[stack_id];
        uint64_t peak_bytes;
        uint64_t peak_count;
        stack_figures_at_peak(&table.figures, stack_id, &peak_bytes, &peak_count);
        if (!stack_has_figures(entry, peak_bytes, peak_count)) {
            continue;
        }
        if (out) {
            struct live_table_stack *stack = &out[stored];
            stack->stack_id = stack_id;
            stack->live_bytes = entry->live_bytes;
            stack->live_count = entry->live_count;
            stack->peak_bytes = peak_bytes;
            stack->peak_count = peak_count;
            stack->total_bytes = entry->total_bytes;
            stack->total_count = entry->total_count;
            stack->weighted_live = entry->weighted_live;
            stack_figures_weighted_at_peak(&table.figures, stack_id, &stack->weighted_peak);
            stack->weighted_total = entry->weighted_total;
        }
        stored++;
    }
    return stored;
}

int live_table_copy_stacks(struct live_table_stack **stacks, size_t *count)
{
    pthread_mutex_lock(&table.mutex);
    size_t wanted = stacks_collect_locked(NULL);
    struct live_table_stack *copy = tracker_malloc((wanted ? wanted : 1) * sizeof *copy);
    if (copy) {
        stacks_collect_locked(copy);
    }
    pthread_mutex_unlock(&table.mutex);
    if (!copy) {
        return -1;
    }
    *stacks = copy;
    *count = wanted;
    return 0;
}

void live_table_free_stacks(struct live_table_stack *stacks, size_t count)
{
    tracker_free(stacks, (count ? count : 1) * sizeof *stacks);
}

int live_table_find(uint64_t address, struct live_table_block *block)
{
    pthread_mutex_lock(&table.mutex);
    int found = 0;
    for (int family = 0; family < FAMILY_COUNT && !found; family++) {
        uint64_t *index = hash_map_find(&table.addresses[family], address);
        if (index) {
            *block = table.blocks[*index];
            found = 1;
        }
    }
    pthread_mutex_unlock(&table.mutex);
    return found;
}

void live_table_clear(void)
{
    pthread_mutex_lock(&table.mutex);
    table_empty_locked();
    pthread_mutex_unlock(&table.mutex);
}

void live_table_reset_peak(void)
{
    pthread_mutex_lock(&table.mutex);
    stack_figures_reset_peak(&table.figures);
    pthread_mutex_unlock(&table.mutex);
}

void live_table_after_fork_in_child(void)
{
    pthread_mutex_init(&table.mutex, NULL);
}

size_t live_table_memory(void)
{
    pthread_mutex_lock(&table.mutex);
    size_t total = table.block_capacity * sizeof *table.blocks +
                   table.figures.capacity * sizeof *table.figures.entries +
                   thread_figures_memory(&table.threads);
    for (int family = 0; family < FAMILY_COUNT; family++) {
        total += hash_map_memory(&table.addresses[family]);
    }
    pthread_mutex_unlock(&table.mutex);
    return total;
}

/* --- per-thread figures (the live view) ---------------------------------- */

void live_table_keep_threads(int keep)
{
    pthread_mutex_lock(&table.mutex);
    table.keep_threads = keep;
    if (!keep) {
        thread_figures_clear(&table.threads);
    }
    pthread_mutex_unlock(&table.mutex);
}

void live_table_describe_thread(uint32_t thread_id, int32_t native_tid, const char *name)
{
    pthread_mutex_lock(&table.mutex);
    if (table.keep_threads) {
        thread_figures_describe(&table.threads, thread_id, native_tid, name);
    }
    pthread_mutex_unlock(&table.mutex);
}

int live_table_copy_threads(struct live_table_thread **threads, size_t *count)
{
    pthread_mutex_lock(&table.mutex);
    size_t bound = thread_figures_thread_bound(&table.threads);
    size_t seen = 0;
    for (size_t index = 0; index < bound; index++) {
        seen += table.threads.threads[index].thread_id != 0;
    }
    struct live_table_thread *copy = tracker_malloc((seen ? seen : 1) * sizeof *copy);
    size_t stored = 0;
    for (size_t index = 0; copy && index < bound; index++) {
        const struct thread_figures_thread *thread = &table.threads.threads[index];
        if (thread->thread_id == 0) {
            continue;
        }
        struct live_table_thread *out = &copy[stored++];
        out->thread_id = thread->thread_id;
        out->native_tid = thread->native_tid;
        memcpy(out->name, thread->name, sizeof out->name);
        out->name_sid = thread->name_sid;
        out->live_bytes = thread->live_bytes;
        out->live_count = thread->live_count;
    }
    pthread_mutex_unlock(&table.mutex);
    if (!copy) {
        return -1;
    }
    *threads = copy;
    *count = seen;
    return 0;
}

void live_table_free_threads(struct live_table_thread *threads, size_t count)
{
    tracker_free(threads, (count ? count : 1) * sizeof *threads);
}

/* Fills out (when not NULL) with thread_id's live shares; returns how many.
 * Call with the mutex held. */
static size_t thread_stacks_collect_locked(uint32_t thread_id, struct live_table_stack *out)
{
    size_t stored = 0;
    for (size_t index = 0; index < table.threads.share_count; index++) {
        const struct thread_stack_share *share = &table.threads.shares[index];
        if (share->live_count == 0 || share->thread_id != thread_id) {
            continue; /* a free slot, or another thread's */
        }
        if (out) {
            out[stored] = (struct live_table_stack){.stack_id = share->stack_id,
                                                    .live_bytes = share->live_bytes,
                                                    .live_count = share->live_count};
        }
        stored++;
    }
    return stored;
}

int live_table_copy_thread_stacks(uint32_t thread_id, struct live_table_stack **stacks,
                                  size_t *count)
{
    pthread_mutex_lock(&table.mutex);
    size_t wanted = thread_stacks_collect_locked(thread_id, NULL);
    struct live_table_stack *copy = tracker_malloc((wanted ? wanted : 1) * sizeof *copy);
    if (copy) {
        thread_stacks_collect_locked(thread_id, copy);
    }
    pthread_mutex_unlock(&table.mutex);
    if (!copy) {
        return -1;
    }
    *stacks = copy;
    *count = wanted;
    return 0;
}
