/* The allocations table's pass (allocation_pass.h). */
#include "core/exports/allocation_pass.h"

#include <errno.h>
#include <string.h>

#define NO_SLOT UINT64_MAX

enum allocation_column {
    COLUMN_ALLOCATION,
    COLUMN_ALLOCATED_EVENT,
    COLUMN_TIME,
    COLUMN_THREAD,
    COLUMN_ADDRESS,
    COLUMN_SIZE,
    COLUMN_ALLOCATOR,
    COLUMN_STACK,
    COLUMN_NATIVE_STACK,
    COLUMN_WEIGHT,
    COLUMN_PIECE,
    COLUMN_FREED_EVENT,
    COLUMN_FREED_TIME,
    COLUMN_BLOCK_EVENT,
    COLUMN_COUNT
};

const struct arrow_field allocation_fields[] = {
    {"allocation", ARROW_TYPE_UINT64, 0},
    {"allocated_event", ARROW_TYPE_UINT64, 0},
    {"time_ns", ARROW_TYPE_UINT64, 0},
    {"thread", ARROW_TYPE_UINT64, 0},
    {"address", ARROW_TYPE_UINT64, 0},
    {"size", ARROW_TYPE_UINT64, 0},
    {"allocator", ARROW_TYPE_UTF8, 0},
    {"stack_id", ARROW_TYPE_UINT32, 0},
    {"native_stack_id", ARROW_TYPE_UINT32, 0},
    {"weight", ARROW_TYPE_FLOAT64, 0},
    {"piece", ARROW_TYPE_UINT32, 0},
    {"freed_event", ARROW_TYPE_UINT64, 1},
    {"freed_time_ns", ARROW_TYPE_UINT64, 1},
    {"block_event", ARROW_TYPE_UINT64, 1},
};
const size_t allocation_field_count = COLUMN_COUNT;

static void error_out_of_memory(struct capture_error *error)
{
    error->os_errno = ENOMEM;
    strcpy(error->message, "out of memory");
}

int allocation_pass_init(struct allocation_pass *pass, struct capture_reader *reader)
{
    memset(pass, 0, sizeof *pass);
    pass->reader = reader;
    pass->free_slot = NO_SLOT;
    hash_map_init(&pass->malloc_live);
    hash_map_init(&pass->pymalloc_live);
    hash_map_init(&pass->pieces);
    const struct capture_header *header = capture_reader_header(reader);
    if (header->sample_interval || header->sample_rate < 1.0) {
        pass->estimates = capture_estimates_new(header);
        if (!pass->estimates) {
            return -1;
        }
    }
    return 0;
}

void allocation_pass_release(struct allocation_pass *pass)
{
    capture_estimates_free(pass->estimates);
    hash_map_release(&pass->malloc_live);
    hash_map_release(&pass->pymalloc_live);
    hash_map_release(&pass->pieces);
    byte_buffer_release(&pass->mappings);
    byte_buffer_release(&pass->slots);
    byte_buffer_release(&pass->snapshots);
    byte_buffer_release(&pass->rss);
    byte_buffer_release(&pass->gc);
    memset(pass, 0, sizeof *pass);
}

static struct pending_allocation *pass_slots(const struct allocation_pass *pass)
{
    return (struct pending_allocation *)pass->slots.data;
}

static uint64_t pass_slot_count(const struct allocation_pass *pass)
{
    return pass->slots.size / sizeof(struct pending_allocation);
}

/* --- rows ----------------------------------------------------------------------- */

/* Appends the row of a block; freed says whether it died at the current
 * event. Returns 0 or -1 (memory). */
static int row_append(struct allocation_pass *pass, struct arrow_table *rows,
                      const struct pending_allocation *block, int freed)
{
    if (!rows) {
        return 0;
    }
    struct arrow_column *columns = rows->columns;
    const char *allocator = capture_allocator_name((int)block->allocator);
    int failed = arrow_column_append_unsigned(&columns[COLUMN_ALLOCATION], block->allocation) |
                 arrow_column_append_unsigned(&columns[COLUMN_ALLOCATED_EVENT], block->event) |
                 arrow_column_append_unsigned(&columns[COLUMN_TIME], block->time_ns) |
                 arrow_column_append_unsigned(&columns[COLUMN_THREAD], block->thread_id) |
                 arrow_column_append_unsigned(&columns[COLUMN_ADDRESS], block->address) |
                 arrow_column_append_unsigned(&columns[COLUMN_SIZE], block->size) |
                 arrow_column_append_text(&columns[COLUMN_ALLOCATOR], allocator,
                                          strlen(allocator)) |
                 arrow_column_append_unsigned(&columns[COLUMN_STACK], block->stack_id) |
                 arrow_column_append_unsigned(&columns[COLUMN_NATIVE_STACK],
                                              block->native_stack_id) |
                 arrow_column_append_double(&columns[COLUMN_WEIGHT], block->weight) |
                 arrow_column_append_unsigned(&columns[COLUMN_PIECE], block->piece);
    if (freed) {
        failed |= arrow_column_append_unsigned(&columns[COLUMN_FREED_EVENT], pass->events) |
                  arrow_column_append_unsigned(&columns[COLUMN_FREED_TIME], pass->last_time_ns);
    } else {
        failed |= arrow_column_append_null(&columns[COLUMN_FREED_EVENT]) |
                  arrow_column_append_null(&columns[COLUMN_FREED_TIME]);
    }
    if (block->block_event == NOT_A_BLOCK) {
        failed |= arrow_column_append_null(&columns[COLUMN_BLOCK_EVENT]);
    } else {
        failed |= arrow_column_append_unsigned(&columns[COLUMN_BLOCK_EVENT], block->block_event);
    }
    return failed || arrow_table_end_row(rows) < 0 ? -1 : 0;
}

/* --- live blocks ----------------------------------------------------------------- */

/* Stores a new live block in a slot. Returns the slot, or NO_SLOT (memory). */
static uint64_t slot_take(struct allocation_pass *pass, const struct pending_allocation *block)
{
    uint64_t slot = pass->free_slot;
    if (slot != NO_SLOT) {
        pass->free_slot = pass_slots(pass)[slot].address;
    } else if (byte_buffer_append(&pass->slots, block, sizeof *block) < 0) {
        return NO_SLOT;
    } else {
        slot = pass_slot_count(pass) - 1;
    }
    pass_slots(pass)[slot] = *block;
    return slot;
}

static void slot_give_back(struct allocation_pass *pass, uint64_t slot)
{
    struct pending_allocation *block = &pass_slots(pass)[slot];
    block->allocation = 0;
    block->address = pass->free_slot;
    pass->free_slot = slot;
}

/* Bytes (and a block, when blocks is 1) join or leave the heap. Weighted
 * sums do not return to exactly zero: an empty heap is reset to it. */
static void heap_change(struct allocation_pass *pass, const struct pending_allocation *block,
                        uint64_t size, double sign, uint64_t blocks)
{
    pass->heap_bytes += sign * (double)size * block->weight;
    pass->heap_blocks = sign > 0 ? pass->heap_blocks + blocks : pass->heap_blocks - blocks;
    if (pass->heap_blocks == 0) {
        pass->heap_bytes = 0;
    }
}

/* The block of a slot dies now: its row, then its slot is free. */
static int slot_end(struct allocation_pass *pass, struct arrow_table *rows, uint64_t slot)
{
    const struct pending_allocation *block = &pass_slots(pass)[slot];
    heap_change(pass, block, block->size, -1, 1);
    int status = row_append(pass, rows, block, 1);
    slot_give_back(pass, slot);
    return status;
}

/* Releases the block at address in map, if any. */
static int block_release(struct allocation_pass *pass, struct arrow_table *rows,
                         struct hash_map *map, uint64_t address)
{
    uint64_t slot;
    if (!hash_map_remove(map, address, &slot)) {
        return 0;
    }
    return slot_end(pass, rows, slot);
}

/* --- mappings ---------------------------------------------------------------------- */

static uint64_t *mapping_slots(const struct allocation_pass *pass)
{
    return (uint64_t *)pass->mappings.data;
}

static size_t mapping_count(const struct allocation_pass *pass)
{
    return pass->mappings.size / sizeof(uint64_t);
}

/* Takes a live mapping at the end of the list. Returns 0 or -1 (memory). */
static int mapping_add(struct allocation_pass *pass, uint64_t slot)
{
    return byte_buffer_append(&pass->mappings, &slot, sizeof slot);
}

/* Drops entry index of the list; the last entry takes its place. */
static void mapping_drop(struct allocation_pass *pass, size_t index)
{
    size_t last = mapping_count(pass) - 1;
    mapping_slots(pass)[index] = mapping_slots(pass)[last];
    pass->mappings.size -= sizeof(uint64_t);
}

static uint64_t range_end(uint64_t start, uint64_t size)
{
    return size > UINT64_MAX - start ? UINT64_MAX : start + size;
}

/* The next piece number of an allocation a cut divides (1, 2, ... in the
 * order its parts are cut off), or -1 when memory ran out. */
static int64_t piece_next(struct allocation_pass *pass, const struct pending_allocation *block)
{
    uint64_t *last = hash_map_find(&pass->pieces, block->allocation);
    if (last) {
        return (int64_t)++*last;
    }
    uint64_t next = (uint64_t)block->piece + 1;
    return hash_map_put(&pass->pieces, block->allocation, next) < 0 ? -1 : (int64_t)next;
}

/* The part [start, end) of the mapping in slot is unmapped: a row of its
 * own, freed now, with the mapping's piece number; what lives on of the
 * mapping takes the next one. */
static int mapping_part_freed(struct allocation_pass *pass, struct arrow_table *rows,
                              uint64_t slot, uint64_t start, uint64_t end)
{
    struct pending_allocation part = pass_slots(pass)[slot];
    int64_t piece = piece_next(pass, &part);
    if (piece < 0) {
        return -1;
    }
    pass_slots(pass)[slot].piece = (uint32_t)piece;
    part.address = start;
    part.size = end - start;
    part.block_event = NOT_A_BLOCK;
    heap_change(pass, &part, part.size, -1, 0);
    return row_append(pass, rows, &part, 1);
}

/* A mapping starting before the range: its part inside is freed, its head
 * lives on, and a part beyond the range becomes a live block of its own. */
static int mapping_cut_from_inside(struct allocation_pass *pass, struct arrow_table *rows,
                                   uint64_t slot, uint64_t start, uint64_t end)
{
    struct pending_allocation mapping = pass_slots(pass)[slot];
    uint64_t mapping_end = range_end(mapping.address, mapping.size);
    uint64_t cut_end = mapping_end < end ? mapping_end : end;
    if (mapping_part_freed(pass, rows, slot, start, cut_end) < 0) {
        return -1;
    }
    pass_slots(pass)[slot].size = start - mapping.address;
    if (mapping_end <= end) {
        return 0;
    }
    int64_t piece = piece_next(pass, &mapping);
    if (piece < 0) {
        return -1;
    }
    struct pending_allocation tail = mapping;
    tail.address = end;
    tail.size = mapping_end - end;
    tail.piece = (uint32_t)piece;
    tail.block_event = pass->events;
    uint64_t tail_slot = slot_take(pass, &tail);
    if (tail_slot == NO_SLOT || mapping_add(pass, tail_slot) < 0) {
        return -1;
    }
    heap_change(pass, &tail, 0, 1, 1); /* its bytes never left the heap */
    return 0;
}

/* A mapping starting inside the range: released whole, or its head is
 * freed and the rest, beyond the range, lives on. Returns 1 when the
 * mapping was released (its list entry is to go), 0, or -1 (memory). */
static int mapping_cut_from_start(struct allocation_pass *pass, struct arrow_table *rows,
                                  uint64_t slot, uint64_t end)
{
    struct pending_allocation *mapping = &pass_slots(pass)[slot];
    uint64_t mapping_end = range_end(mapping->address, mapping->size);
    if (mapping_end <= end) {
        return slot_end(pass, rows, slot) < 0 ? -1 : 1;
    }
    if (mapping_part_freed(pass, rows, slot, mapping->address, end) < 0) {
        return -1;
    }
    mapping = &pass_slots(pass)[slot];
    mapping->address = end;
    mapping->size = mapping_end - end;
    return 0;
}

/* Unmaps [start, start + size) from every live mapping it overlaps. */
static int mappings_unmap(struct allocation_pass *pass, struct arrow_table *rows, uint64_t start,
                          uint64_t size)
{
    uint64_t end = range_end(start, size);
    size_t index = 0;
    while (start < end && index < mapping_count(pass)) {
        uint64_t slot = mapping_slots(pass)[index];
        const struct pending_allocation *mapping = &pass_slots(pass)[slot];
        uint64_t mapping_end = range_end(mapping->address, mapping->size);
        int status = 0;
        if (mapping_end <= start || mapping->address >= end) {
            status = 0;
        } else if (mapping->address < start) {
            status = mapping_cut_from_inside(pass, rows, slot, start, end);
        } else {
            status = mapping_cut_from_start(pass, rows, slot, end);
        }
        if (status < 0) {
            return -1;
        }
        if (status == 1) {
            mapping_drop(pass, index);
        } else {
            index++;
        }
    }
    return 0;
}

static int is_mapping(uint32_t allocator)
{
    return allocator == ALLOCATOR_MMAP || allocator == ALLOCATOR_MREMAP;
}

static struct hash_map *live_map(struct allocation_pass *pass, uint32_t allocator)
{
    return allocator == ALLOCATOR_PYMALLOC ? &pass->pymalloc_live : &pass->malloc_live;
}

/* A new mapping first unmaps its range; one that maps nothing is never live. */
static int take_mapping(struct allocation_pass *pass, struct arrow_table *rows,
                        struct pending_allocation *block)
{
    uint64_t size = range_end(block->address, block->size) - block->address;
    if (size == 0) {
        return row_append(pass, rows, block, 1);
    }
    if (mappings_unmap(pass, rows, block->address, size) < 0) {
        return -1;
    }
    uint64_t slot = slot_take(pass, block);
    if (slot == NO_SLOT || mapping_add(pass, slot) < 0) {
        return -1;
    }
    heap_change(pass, block, block->size, 1, 1);
    return 0;
}

static int take_allocation(struct allocation_pass *pass, struct arrow_table *rows,
                           const struct capture_record *record)
{
    pass->allocations++;
    struct pending_allocation block = {
        pass->allocations, pass->events, pass->last_time_ns, record->thread_id, record->address,
        record->size,
        pass->estimates ? capture_estimates_weight(pass->estimates, record->size) : 1.0,
        record->allocator, record->stack_id, record->native_stack_id, 0, pass->events};
    if (is_mapping(record->allocator)) {
        return take_mapping(pass, rows, &block);
    }
    struct hash_map *map = live_map(pass, record->allocator);
    if (block_release(pass, rows, map, record->address) < 0) {
        return -1;
    }
    if (record->address == HASH_MAP_EMPTY_KEY) {
        return row_append(pass, rows, &block, 1); /* cannot be kept live */
    }
    uint64_t slot = slot_take(pass, &block);
    if (slot == NO_SLOT || hash_map_put(map, record->address, slot) < 0) {
        return -1;
    }
    heap_change(pass, &block, block.size, 1, 1);
    return 0;
}

/* --- events ------------------------------------------------------------------------ */

static int take_event(struct allocation_pass *pass, struct arrow_table *rows,
                      const struct capture_record *record)
{
    switch (record->kind) {
    case CAPTURE_RECORD_ALLOCATION:
        return take_allocation(pass, rows, record);
    case CAPTURE_RECORD_FREE:
        return block_release(pass, rows, &pass->malloc_live, record->address);
    case CAPTURE_RECORD_PYMALLOC_FREE:
        return block_release(pass, rows, &pass->pymalloc_live, record->address);
    case CAPTURE_RECORD_MUNMAP:
        return mappings_unmap(pass, rows, record->address, record->size);
    case CAPTURE_RECORD_TIME:
        pass->last_time_ns = record->time_ns;
        return 0;
    case CAPTURE_RECORD_RSS: {
        struct rss_row row = {pass->last_time_ns, record->rss_bytes, record->minor_faults,
                              record->major_faults};
        return byte_buffer_append(&pass->rss, &row, sizeof row);
    }
    case CAPTURE_RECORD_GC: {
        struct gc_row row = {pass->last_time_ns, record->gc_generation, record->gc_collected,
                             record->gc_uncollectable, record->gc_duration_ns};
        return byte_buffer_append(&pass->gc, &row, sizeof row);
    }
    case CAPTURE_RECORD_SNAPSHOT: {
        struct snapshot_row row = {pass->events, pass->last_time_ns};
        return byte_buffer_append(&pass->snapshots, &row, sizeof row);
    }
    case CAPTURE_RECORD_SAMPLING:
        if (pass->estimates) {
            capture_estimates_take_sampling(pass->estimates, record);
        }
        return 0;
    }
    return 0;
}

/* Writes the rows of blocks still live, slot by slot, until rows is full. */
static int drain_live(struct allocation_pass *pass, struct arrow_table *rows)
{
    uint64_t count = pass_slot_count(pass);
    while (pass->drain_slot < count && !(rows && arrow_table_full(rows))) {
        const struct pending_allocation *block = &pass_slots(pass)[pass->drain_slot++];
        if (block->allocation && row_append(pass, rows, block, 0) < 0) {
            return -1;
        }
    }
    pass->finished = pass->drain_slot >= count;
    return 0;
}

int allocation_pass_fill(struct allocation_pass *pass, struct arrow_table *rows,
                         struct capture_error *error)
{
    struct capture_record record;
    while (!pass->events_done && !(rows && arrow_table_full(rows))) {
        int status = capture_reader_next(pass->reader, &record);
        if (status < 0) {
            *error = *capture_reader_error(pass->reader);
            return -1;
        }
        if (status == 0) {
            pass->events_done = 1;
            break;
        }
        if (take_event(pass, rows, &record) < 0) {
            error_out_of_memory(error);
            return -1;
        }
        if (pass->heap_bytes > pass->peak_bytes) {
            pass->peak_bytes = pass->heap_bytes;
            pass->peak_event = pass->events;
        }
        pass->events++;
    }
    if (pass->events_done && drain_live(pass, rows) < 0) {
        error_out_of_memory(error);
        return -1;
    }
    return 0;
}
