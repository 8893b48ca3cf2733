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
    hash_map_init(&pass->mapping_live);
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
    hash_map_release(&pass->mapping_live);
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

/* Unmaps [start, start + size): whole mappings from start on, and the head
 * of one reaching past the range. */
static int mappings_unmap(struct allocation_pass *pass, struct arrow_table *rows, uint64_t start,
                          uint64_t size)
{
    uint64_t end = size > UINT64_MAX - start ? UINT64_MAX : start + size;
    uint64_t slot;
    while (start < end && hash_map_remove(&pass->mapping_live, start, &slot)) {
        struct pending_allocation *mapping = &pass_slots(pass)[slot];
        if (mapping->size <= end - start) {
            start += mapping->size;
            if (slot_end(pass, rows, slot) < 0) {
                return -1;
            }
            continue;
        }
        /* The unmapped head is a row of its own; the rest lives on. */
        struct pending_allocation head = *mapping;
        head.size = end - start;
        mapping->size -= head.size;
        heap_change(pass, &head, head.size, -1, 0);
        mapping->address = end;
        mapping->piece++;
        if (row_append(pass, rows, &head, 1) < 0 ||
            hash_map_put(&pass->mapping_live, end, slot) < 0) {
            return -1;
        }
        start = end;
    }
    return 0;
}

static struct hash_map *live_map(struct allocation_pass *pass, uint32_t allocator)
{
    switch (allocator) {
    case ALLOCATOR_MMAP:
    case ALLOCATOR_MREMAP:
        return &pass->mapping_live;
    case ALLOCATOR_PYMALLOC:
        return &pass->pymalloc_live;
    default:
        return &pass->malloc_live;
    }
}

static int take_allocation(struct allocation_pass *pass, struct arrow_table *rows,
                           const struct capture_record *record)
{
    pass->allocations++;
    struct pending_allocation block = {
        pass->allocations, pass->events, pass->last_time_ns, record->thread_id, record->address,
        record->size,
        pass->estimates ? capture_estimates_weight(pass->estimates, record->size) : 1.0,
        record->allocator, record->stack_id, record->native_stack_id, 0};
    struct hash_map *map = live_map(pass, record->allocator);
    if (map == &pass->mapping_live) {
        if (record->size == 0) {
            return row_append(pass, rows, &block, 1); /* maps nothing: never live */
        }
        if (mappings_unmap(pass, rows, record->address, record->size) < 0) {
            return -1;
        }
    } else if (block_release(pass, rows, map, record->address) < 0) {
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
