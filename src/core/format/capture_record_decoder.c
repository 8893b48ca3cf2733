/* Decodes the records of the chunk the file level (capture_file_reader.c)
 * has loaded: definitions go into the reader's tables, events out to the
 * caller; addresses are resolved against the chunk's address history. */
#include "core/format/capture_reader_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/base/byte_buffer.h"
#include "core/base/hash_map.h"
#include "core/base/tracker_memory.h"
#include "core/base/varint.h"

/* --- records ------------------------------------------------------------------ */

/* Fails the reader with a message locating the current record. Returns -1. */
static int record_fail(struct capture_reader *reader, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static int record_fail(struct capture_reader *reader, const char *format, ...)
{
    char reason[REASON_SIZE];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(reason, sizeof reason, format, arguments);
    va_end(arguments);
    return reader_fail(reader, 0, "chunk at offset %llu: record at byte %zu: %s",
                       (unsigned long long)reader->chunk_offset,
                       (size_t)(reader->record_start - reader->payload.data), reason);
}

/* Reads one varint of the current record. Returns 0 or -1 (reader failed). */
static inline __attribute__((always_inline)) int take_varint(struct capture_reader *reader,
                                                             uint64_t *value)
{
    if (varint_decode(&reader->cursor, reader->payload_end, value) == 0) {
        return 0;
    }
    record_fail(reader, "%s", reader_varint_problem(reader->cursor, reader->payload_end));
    return -1; /* what record_fail returns, but visibly: *value is not set */
}

/* Reads an id that must be at most limit (the ids defined so far). */
static inline __attribute__((always_inline)) int take_id(struct capture_reader *reader,
                                                         uint64_t limit, const char *what,
                                                         uint32_t *id)
{
    uint64_t value;
    if (take_varint(reader, &value) < 0) {
        return -1;
    }
    if (value > limit) {
        return record_fail(reader, "%s id %llu is not defined (%llu are)", what,
                           (unsigned long long)value, (unsigned long long)limit);
    }
    *id = (uint32_t)value;
    return 0;
}

/* Reads a varint that must fit 32 bits. */
static int take_u32(struct capture_reader *reader, const char *what, uint32_t *result)
{
    uint64_t value;
    if (take_varint(reader, &value) < 0) {
        return -1;
    }
    if (value > UINT32_MAX) {
        return record_fail(reader, "%s %llu is out of range", what, (unsigned long long)value);
    }
    *result = (uint32_t)value;
    return 0;
}

static struct address_state *current_state(struct capture_reader *reader)
{
    return reader->address_state;
}

/* Reads zigzag(address - previous) and returns the address in *address. */
static int take_address(struct capture_reader *reader, uint64_t *address)
{
    uint64_t delta;
    if (take_varint(reader, &delta) < 0) {
        return -1;
    }
    struct address_state *state = current_state(reader);
    state->previous_address += (uint64_t)zigzag_decode(delta);
    *address = state->previous_address;
    return 0;
}

/* Ids are 32-bit: a table may hold at most this many entries. */
static int check_room(struct capture_reader *reader, uint32_t count, const char *what)
{
    if (count >= UINT32_MAX - 1) {
        return record_fail(reader, "too many %s", what);
    }
    return 0;
}

static int decode_string(struct capture_reader *reader)
{
    uint64_t size;
    if (check_room(reader, reader->string_count, "strings") < 0 || take_varint(reader, &size) < 0) {
        return -1;
    }
    if (size > (uint64_t)(reader->payload_end - reader->cursor)) {
        return record_fail(reader, "a string of %llu bytes runs past the end of the chunk",
                           (unsigned long long)size);
    }
    struct string_entry entry = {reader->string_bytes.size, size};
    if (byte_buffer_reserve(&reader->string_bytes, (size_t)size + 1) < 0 ||
        byte_buffer_append(&reader->strings, &entry, sizeof entry) < 0) {
        return reader_out_of_memory(reader);
    }
    byte_buffer_append(&reader->string_bytes, reader->cursor, (size_t)size);
    byte_buffer_append_byte(&reader->string_bytes, 0);
    reader->cursor += size;
    reader->string_count++;
    return 0;
}

static int decode_frame(struct capture_reader *reader)
{
    struct capture_frame frame;
    if (check_room(reader, reader->frame_count, "frames") < 0 ||
        take_id(reader, reader->string_count, "function string", &frame.function_sid) < 0 ||
        take_id(reader, reader->string_count, "file string", &frame.file_sid) < 0 ||
        take_u32(reader, "line", &frame.line) < 0 ||
        take_u32(reader, "frame flags", &frame.flags) < 0) {
        return -1;
    }
    frame.module_sid = 0;
    if (byte_buffer_append(&reader->frames, &frame, sizeof frame) < 0) {
        return reader_out_of_memory(reader);
    }
    reader->frame_count++;
    return 0;
}

static int decode_frame_module(struct capture_reader *reader)
{
    uint32_t frame_id = 0, module_sid = 0;
    if (take_id(reader, reader->frame_count, "frame", &frame_id) < 0 ||
        take_id(reader, reader->string_count, "module string", &module_sid) < 0) {
        return -1;
    }
    if (frame_id == 0) {
        return record_fail(reader, "a module for no frame (frame id 0)");
    }
    struct capture_frame *frame = (struct capture_frame *)reader->frames.data + (frame_id - 1);
    if (!frame->module_sid) {
        frame->module_sid = module_sid;
    }
    return 0;
}

/* A stack's parent: its id, or from version 2 on the distance back to it
 * from the stack's own id (so a root's distance is the whole id). */
static int take_parent_stack(struct capture_reader *reader, uint32_t *parent)
{
    if (reader->header.format_version < CAPTURE_STACK_DELTA_FORMAT_VERSION) {
        return take_id(reader, reader->stack_count, "parent stack", parent);
    }
    uint64_t distance;
    uint64_t own_id = (uint64_t)reader->stack_count + 1;
    if (take_varint(reader, &distance) < 0) {
        return -1;
    }
    if (distance == 0 || distance > own_id) {
        return record_fail(reader, "parent stack %llu back from stack %llu is not defined",
                           (unsigned long long)distance, (unsigned long long)own_id);
    }
    *parent = (uint32_t)(own_id - distance);
    return 0;
}

static int decode_stack(struct capture_reader *reader)
{
    struct capture_stack stack;
    if (check_room(reader, reader->stack_count, "stacks") < 0 ||
        take_parent_stack(reader, &stack.parent_stack_id) < 0 ||
        take_id(reader, reader->frame_count, "frame", &stack.frame_id) < 0) {
        return -1;
    }
    if (stack.frame_id == 0) {
        return record_fail(reader, "a stack entry without a frame (frame id 0)");
    }
    if (byte_buffer_append(&reader->stacks, &stack, sizeof stack) < 0) {
        return reader_out_of_memory(reader);
    }
    reader->stack_count++;
    return 0;
}

/* Returns thread_id's entry, adding an undeclared one when it is new; NULL
 * with the reader failed on a bad id or no memory. */
static struct capture_thread *thread_entry(struct capture_reader *reader, uint64_t thread_id)
{
    if (thread_id == HASH_MAP_EMPTY_KEY) {
        record_fail(reader, "thread id %llu is out of range", (unsigned long long)thread_id);
        return NULL;
    }
    struct capture_thread *threads = (struct capture_thread *)reader->threads.data;
    uint64_t *position = hash_map_find(&reader->thread_positions, thread_id);
    if (position) {
        return &threads[*position];
    }
    size_t count = reader->threads.size / sizeof *threads;
    struct capture_thread entry = {thread_id, 0, 0};
    if (hash_map_put(&reader->thread_positions, thread_id, count) < 0 ||
        byte_buffer_append(&reader->threads, &entry, sizeof entry) < 0) {
        reader_out_of_memory(reader);
        return NULL;
    }
    return (struct capture_thread *)reader->threads.data + count;
}

static int decode_thread(struct capture_reader *reader)
{
    uint64_t thread_id = 0;
    uint64_t native_tid = 0;
    uint32_t name_sid = 0;
    if (take_varint(reader, &thread_id) < 0 || take_varint(reader, &native_tid) < 0 ||
        take_id(reader, reader->string_count, "thread name string", &name_sid) < 0) {
        return -1;
    }
    struct capture_thread *thread = thread_entry(reader, thread_id);
    if (!thread) {
        return -1;
    }
    thread->native_tid = native_tid;
    thread->name_sid = name_sid;
    return 0;
}

/* A switch to a thread not declared yet is allowed (the writer declares a
 * burst of new threads over several rounds); it is listed, unnamed. */
static int decode_switch_thread(struct capture_reader *reader)
{
    uint64_t thread_id = 0;
    if (take_varint(reader, &thread_id) < 0 || !thread_entry(reader, thread_id)) {
        return -1;
    }
    reader->current_thread = thread_id;
    if (reader->header.format_version >= CAPTURE_THREAD_STATES_FORMAT_VERSION) {
        int fresh;
        reader->state_index = address_state_index(&reader->address_threads, thread_id, &fresh);
        reader->address_state = &reader->address_states[reader->state_index];
        if (fresh) {
            address_state_reset(current_state(reader));
        }
    }
    return 0;
}

static int decode_gc(struct capture_reader *reader, struct capture_record *record)
{
    uint64_t generation;
    if (take_varint(reader, &generation) < 0 || take_varint(reader, &record->gc_collected) < 0 ||
        take_varint(reader, &record->gc_uncollectable) < 0 ||
        take_varint(reader, &record->gc_duration_ns) < 0) {
        return -1;
    }
    if (generation >= CAPTURE_GC_GENERATIONS) {
        return record_fail(reader, "gc generation %llu is out of range",
                           (unsigned long long)generation);
    }
    record->gc_generation = (uint32_t)generation;
    return 0;
}

/* The largest mean a sampling mode may have: what the recorder accepts
 * (capture_format.h), so that every weight 1/p stays a meaningful double. */
static uint64_t sampling_mean_limit(uint64_t mode)
{
    return mode == CAPTURE_SAMPLING_BY_BYTES ? CAPTURE_MAX_SAMPLE_INTERVAL
                                             : CAPTURE_MAX_SAMPLE_GAP;
}

static int decode_sampling(struct capture_reader *reader, struct capture_record *record)
{
    uint64_t mode;
    if (take_varint(reader, &mode) < 0 || take_varint(reader, &record->sample_mean) < 0) {
        return -1;
    }
    if (mode > CAPTURE_SAMPLING_BY_ALLOCATIONS ||
        (mode != 0 && (record->sample_mean == 0 ||
                       record->sample_mean > sampling_mean_limit(mode)))) {
        return record_fail(reader, "sampling mode %llu with mean %llu is invalid",
                           (unsigned long long)mode, (unsigned long long)record->sample_mean);
    }
    record->sample_mode = (uint32_t)mode;
    return 0;
}

/* An OP_ALLOC_REUSED address: a place in the chunk's freed history. */
static int take_reused_address(struct capture_reader *reader, uint64_t *address)
{
    uint64_t place;
    if (take_varint(reader, &place) < 0) {
        return -1;
    }
    if (freed_history_get(&current_state(reader)->freed, place, address) < 0) {
        return record_fail(reader, "reused address %llu frees back is not in this chunk",
                           (unsigned long long)place);
    }
    current_state(reader)->previous_address = *address;
    return 0;
}

/* An OP_FREE_RECENT distance: the address of a recent allocation. */
static int take_recent_address(struct capture_reader *reader, uint64_t *address)
{
    uint64_t distance;
    if (take_varint(reader, &distance) < 0) {
        return -1;
    }
    struct address_state *state = current_state(reader);
    if (distance == 0 || distance > state->allocations || distance > reader->recent_capacity) {
        return record_fail(reader, "free of the allocation %llu back is not in this chunk",
                           (unsigned long long)distance);
    }
    uint64_t place = state->allocations - distance;
    *address = reader->recent_allocations[reader->state_index][place &
                                                               (reader->recent_capacity - 1)];
    state->previous_address = *address;
    return 0;
}

/* Notes an allocation's address for later OP_FREE_RECENT records; 0 or -1. */
static int remember_allocation(struct capture_reader *reader, uint64_t address)
{
    uint64_t **recent = &reader->recent_allocations[reader->state_index];
    if (!*recent) {
        *recent = tracker_malloc(reader->recent_capacity * sizeof(uint64_t));
        if (!*recent) {
            return reader_fail(reader, ENOMEM, "out of memory");
        }
    }
    struct address_state *state = current_state(reader);
    (*recent)[state->allocations++ & (reader->recent_capacity - 1)] = address;
    return 0;
}

/* Reads an allocation's size: larger than CAPTURE_MAX_ALLOCATION_SIZE is
 * damage (the recorder writes only allocations that succeeded), and sums
 * of such sizes would overflow the reports' figures. */
static int take_allocation_size(struct capture_reader *reader, uint64_t *size)
{
    if (take_varint(reader, size) < 0) {
        return -1;
    }
    if (*size > CAPTURE_MAX_ALLOCATION_SIZE) {
        return record_fail(reader, "allocation size %llu is above the limit of 2^48 bytes",
                           (unsigned long long)*size);
    }
    return 0;
}

/* Adds an allocation's size to the capture's total, refusing a total that
 * would pass CAPTURE_MAX_TOTAL_BYTES (every report figure is at most it). */
static int count_allocated_bytes(struct capture_reader *reader, uint64_t size)
{
    uint64_t total;
    if (__builtin_add_overflow(reader->allocated_bytes, size, &total) ||
        total > CAPTURE_MAX_TOTAL_BYTES) {
        return record_fail(reader, "the allocated bytes add up to more than 2^62");
    }
    reader->allocated_bytes = total;
    return 0;
}

static int decode_allocation(struct capture_reader *reader, uint8_t opcode,
                             struct capture_record *record)
{
    int native = opcode >= OP_ALLOC_NATIVE && opcode < OP_ALLOC_NATIVE + ALLOCATOR_COUNT;
    int reused = opcode >= OP_ALLOC_REUSED;
    uint8_t base = native ? OP_ALLOC_NATIVE : reused ? OP_ALLOC_REUSED : OP_ALLOC;
    record->allocator = (uint32_t)(opcode - base);
    record->native_stack_id = 0;
    int address = reused ? take_reused_address(reader, &record->address)
                         : take_address(reader, &record->address);
    return address < 0 || take_allocation_size(reader, &record->size) < 0 ||
                   count_allocated_bytes(reader, record->size) < 0 ||
                   take_id(reader, reader->stack_count, "stack", &record->stack_id) < 0 ||
                   (native && take_id(reader, reader->native_stack_count, "native stack",
                                      &record->native_stack_id) < 0) ||
                   remember_allocation(reader, record->address) < 0
               ? -1
               : 0;
}

/* A free of either form; its address joins the freed history. */
static int decode_free(struct capture_reader *reader, uint8_t opcode,
                       struct capture_record *record)
{
    int pymalloc = opcode == OP_FREE_PYMALLOC || opcode == OP_FREE_PYMALLOC_RECENT;
    int recent = opcode == OP_FREE_RECENT || opcode == OP_FREE_PYMALLOC_RECENT;
    record->kind = pymalloc ? CAPTURE_RECORD_PYMALLOC_FREE : CAPTURE_RECORD_FREE;
    record->size = 0;
    if ((recent ? take_recent_address(reader, &record->address)
                : take_address(reader, &record->address)) < 0) {
        return -1;
    }
    freed_history_push(&current_state(reader)->freed, record->address);
    return 0;
}

static int decode_native_stack(struct capture_reader *reader)
{
    struct capture_native_stack stack;
    if (check_room(reader, reader->native_stack_count, "native stacks") < 0 ||
        take_id(reader, reader->native_stack_count, "parent native stack",
                &stack.parent_native_stack_id) < 0 ||
        take_varint(reader, &stack.ip) < 0) {
        return -1;
    }
    if (byte_buffer_append(&reader->native_stacks, &stack, sizeof stack) < 0) {
        return reader_out_of_memory(reader);
    }
    reader->native_stack_count++;
    return 0;
}

static int decode_mapping(struct capture_reader *reader)
{
    struct capture_mapping mapping;
    memset(&mapping, 0, sizeof mapping);
    uint64_t size;
    if (take_varint(reader, &mapping.start) < 0 || take_varint(reader, &mapping.end) < 0 ||
        take_varint(reader, &mapping.load_bias) < 0 ||
        take_id(reader, reader->string_count, "mapping path string", &mapping.path_sid) < 0 ||
        take_varint(reader, &size) < 0) {
        return -1;
    }
    if (size > CAPTURE_BUILD_ID_MAX || size > (uint64_t)(reader->payload_end - reader->cursor)) {
        return record_fail(reader, "a build-id of %llu bytes is too long or runs past the chunk",
                           (unsigned long long)size);
    }
    if (mapping.end < mapping.start) {
        return record_fail(reader, "a mapping ends before it starts");
    }
    mapping.build_id_size = (uint32_t)size;
    memcpy(mapping.build_id, reader->cursor, (size_t)size);
    reader->cursor += size;
    if (byte_buffer_append(&reader->mappings, &mapping, sizeof mapping) < 0) {
        return reader_out_of_memory(reader);
    }
    return 0;
}

/* Refuses tables of definitions larger than the file can honestly hold
 * (CAPTURE_TABLE_BYTES_PER_FILE_BYTE): the memory of a decompression bomb
 * stays bounded by its size on disk. Returns 0 or -1 (reader failed). */
static int check_table_budget(struct capture_reader *reader)
{
    const struct byte_buffer *tables[] = {
        &reader->string_bytes, &reader->strings,       &reader->frames,  &reader->stacks,
        &reader->threads,      &reader->native_stacks, &reader->mappings,
    };
    uint64_t used = 0;
    for (size_t index = 0; index < sizeof tables / sizeof tables[0]; index++) {
        used += tables[index]->size;
    }
    if (used > reader->table_budget) {
        return record_fail(reader,
                           "the definitions need more than %llu bytes of tables, too many for "
                           "a file of %llu bytes (a decompression bomb)",
                           (unsigned long long)reader->table_budget,
                           (unsigned long long)reader->file_size);
    }
    return 0;
}

/* Decodes a definition record. Returns 0, or -1 with the reader failed. */
static int decode_definition(struct capture_reader *reader, uint8_t opcode)
{
    int decoded;
    switch (opcode) {
    case OP_STRING: decoded = decode_string(reader); break;
    case OP_FRAME: decoded = decode_frame(reader); break;
    case OP_STACK: decoded = decode_stack(reader); break;
    case OP_THREAD: decoded = decode_thread(reader); break;
    case OP_NATIVE_STACK: decoded = decode_native_stack(reader); break;
    case OP_MAPPING: decoded = decode_mapping(reader); break;
    case OP_FRAME_MODULE: decoded = decode_frame_module(reader); break;
    default: decoded = decode_switch_thread(reader); break;
    }
    return decoded < 0 ? -1 : check_table_budget(reader);
}

static int opcode_is_allocation(uint8_t opcode)
{
    return (opcode >= OP_ALLOC && opcode < OP_ALLOC + ALLOCATOR_COUNT) ||
           (opcode >= OP_ALLOC_REUSED && opcode < OP_ALLOC_REUSED + ALLOCATOR_COUNT) ||
           (opcode >= OP_ALLOC_NATIVE && opcode < OP_ALLOC_NATIVE + ALLOCATOR_COUNT);
}

static int opcode_is_free(uint8_t opcode)
{
    return opcode == OP_FREE || opcode == OP_FREE_PYMALLOC || opcode == OP_FREE_RECENT ||
           opcode == OP_FREE_PYMALLOC_RECENT;
}

static int opcode_is_event(uint8_t opcode)
{
    return opcode_is_allocation(opcode) || opcode_is_free(opcode) || opcode == OP_MUNMAP ||
           (opcode >= OP_TIME && opcode <= OP_SAMPLING);
}

/* Decodes an event record's fields into *record. Returns 0 or -1. */
static int decode_event(struct capture_reader *reader, uint8_t opcode,
                        struct capture_record *record)
{
    /* Allocations and frees first, with no jump table: nearly every record is one. */
    if (opcode_is_allocation(opcode)) {
        record->kind = CAPTURE_RECORD_ALLOCATION;
        return decode_allocation(reader, opcode, record);
    }
    if (opcode_is_free(opcode)) {
        return decode_free(reader, opcode, record);
    }
    switch (opcode) {
    case OP_TIME:
        record->kind = CAPTURE_RECORD_TIME;
        return take_varint(reader, &record->time_ns);
    case OP_RSS:
        record->kind = CAPTURE_RECORD_RSS;
        return take_varint(reader, &record->rss_bytes) < 0 ||
                       take_varint(reader, &record->minor_faults) < 0 ||
                       take_varint(reader, &record->major_faults) < 0
                   ? -1
                   : 0;
    case OP_GC:
        record->kind = CAPTURE_RECORD_GC;
        return decode_gc(reader, record);
    case OP_SNAPSHOT:
        record->kind = CAPTURE_RECORD_SNAPSHOT;
        return 0;
    case OP_SAMPLING:
        record->kind = CAPTURE_RECORD_SAMPLING;
        return decode_sampling(reader, record);
    default: /* OP_MUNMAP: opcode_is_event lets no other through */
        record->kind = CAPTURE_RECORD_MUNMAP;
        /* Not bounded like allocation sizes: the recorder writes a munmap's
         * length before the kernel checks it, and the heap clips it. */
        return take_address(reader, &record->address) < 0 ? -1 : take_varint(reader, &record->size);
    }
}

/* Decodes the record at the cursor. Returns 1 for an event (in *record), 0
 * for a definition, -1 with the reader failed. */
int record_decoder_decode(struct capture_reader *reader, struct capture_record *record)
{
    reader->record_start = reader->cursor;
    uint8_t opcode = *reader->cursor++;
    if (opcode_is_event(opcode)) {
        record->thread_id = reader->current_thread;
        return decode_event(reader, opcode, record) < 0 ? -1 : 1;
    }
    if ((opcode >= OP_STRING && opcode <= OP_SWITCH_THREAD) || opcode == OP_NATIVE_STACK ||
        opcode == OP_MAPPING || opcode == OP_FRAME_MODULE) {
        return decode_definition(reader, opcode);
    }
    return record_fail(reader, "unknown opcode 0x%02x", opcode);
}
