#include "core/recording/event_encoder.h"

#include <string.h>

#include "core/format/capture_format.h"

/* The most bytes one event can take: opcode, thread switch, four varints. */
#define EVENT_MAX_ENCODED_SIZE (2 + 6 * VARINT_MAX_SIZE)

void event_encoder_begin_chunk(struct event_encoder *encoder)
{
    encoder->current_thread = 0;
    encoder->state_index = 0;
    address_state_threads_reset(&encoder->threads);
    address_state_reset(&encoder->states[0]);
    if (++encoder->chunk_number == 0) { /* after 2^32 chunks: clear once */
        memset(encoder->recent, 0, sizeof encoder->recent);
        encoder->chunk_number = 1;
    }
}

void event_encoder_reset(struct event_encoder *encoder)
{
    encoder->record_count = 0;
    encoder->allocation_count = 0;
    encoder->allocated_bytes = 0;
    encoder->free_count = 0;
    encoder->native_stack_limit = 0;
    event_encoder_begin_chunk(encoder);
}

static struct address_state *current_state(struct event_encoder *encoder)
{
    return &encoder->states[encoder->state_index];
}

static void switch_thread(struct event_encoder *encoder, uint32_t thread_id)
{
    int fresh;
    encoder->current_thread = thread_id;
    encoder->state_index = address_state_index(&encoder->threads, thread_id, &fresh);
    if (fresh) {
        address_state_reset(current_state(encoder));
    }
}

static struct recent_allocation *recent_slot(struct event_encoder *encoder, uint64_t address)
{
    return &encoder->recent[(address * 0x9E3779B97F4A7C15ULL) >> 52];
}

/* Notes an allocation the chunk has just written. */
static void remember_allocation(struct event_encoder *encoder, uint64_t address)
{
    struct recent_allocation *slot = recent_slot(encoder, address);
    slot->address = address;
    slot->chunk = encoder->chunk_number;
    slot->state = encoder->state_index;
    slot->ordinal_plus_one = (uint32_t)++current_state(encoder)->allocations;
}

/* The distance back to address's allocation in the current state, or 0
 * when it cannot be referred to that way; forgets the allocation. */
static uint64_t allocation_distance(struct event_encoder *encoder, uint64_t address)
{
    struct recent_allocation *slot = recent_slot(encoder, address);
    if (!slot->ordinal_plus_one || slot->chunk != encoder->chunk_number ||
        slot->address != address || slot->state != encoder->state_index) {
        return 0;
    }
    uint64_t distance = current_state(encoder)->allocations - (slot->ordinal_plus_one - 1);
    slot->ordinal_plus_one = 0;
    return distance <= RECENT_ALLOCATIONS ? distance : 0;
}

static struct freed_lookup_slot *freed_lookup_slot(struct event_encoder *encoder,
                                                   uint64_t address)
{
    uint32_t hash = (uint32_t)((address * 0x9E3779B97F4A7C15ULL) >> 50);
    return &encoder->freed_lookup[hash & (FREED_LOOKUP_SLOTS - 1)];
}

static void push_freed(struct event_encoder *encoder, uint64_t address)
{
    struct freed_history *history = &current_state(encoder)->freed;
    struct freed_lookup_slot *slot = freed_lookup_slot(encoder, address);
    slot->pushed_at = history->count + 1;
    slot->state = encoder->state_index;
    freed_history_push(history, address);
}

/* The place of address in the current state's freed history (0 = latest),
 * or -1 when it is not there or its lookup slot was taken since. */
static int find_freed(struct event_encoder *encoder, uint64_t address)
{
    const struct freed_history *history = &current_state(encoder)->freed;
    const struct freed_lookup_slot *slot = freed_lookup_slot(encoder, address);
    if (slot->pushed_at == 0 || slot->state != encoder->state_index) {
        return -1;
    }
    uint32_t index = slot->pushed_at - 1;
    if (index >= history->count || history->count - index > FREED_HISTORY ||
        history->addresses[index & (FREED_HISTORY - 1)] != address) {
        return -1;
    }
    return (int)(history->count - 1 - index);
}

static void put_address_delta(struct event_encoder *encoder, struct byte_buffer *out,
                              uint64_t address)
{
    struct address_state *state = current_state(encoder);
    int64_t delta = (int64_t)(address - state->previous_address);
    byte_buffer_put_varint_unchecked(out, zigzag_encode(delta));
    state->previous_address = address;
}

static void put_opcode(struct byte_buffer *out, uint8_t opcode)
{
    out->data[out->size++] = opcode;
}

static void put_allocation(struct event_encoder *encoder, struct byte_buffer *out,
                           const struct recorded_event *event, uint32_t stack_limit)
{
    uint32_t native = event->native_stack_id <= encoder->native_stack_limit
                          ? event->native_stack_id
                          : 0;
    int place = native ? -1 : find_freed(encoder, event->address);
    if (place >= 0) {
        put_opcode(out, (uint8_t)(OP_ALLOC_REUSED + event->allocator));
        byte_buffer_put_varint_unchecked(out, (uint64_t)place);
        current_state(encoder)->previous_address = event->address;
    } else {
        put_opcode(out, (uint8_t)((native ? OP_ALLOC_NATIVE : OP_ALLOC) + event->allocator));
        put_address_delta(encoder, out, event->address);
    }
    remember_allocation(encoder, event->address);
    byte_buffer_put_varint_unchecked(out, event->size);
    byte_buffer_put_varint_unchecked(out, event->value <= stack_limit ? event->value : 0);
    if (native) {
        byte_buffer_put_varint_unchecked(out, native);
    }
    encoder->allocation_count++;
    encoder->allocated_bytes += event->size;
}

/* A free: by distance to its allocation when that is recent, else by
 * address delta. */
static void put_free(struct event_encoder *encoder, struct byte_buffer *out,
                     const struct recorded_event *event)
{
    int pymalloc = event->kind == EVENT_FREE_PYMALLOC;
    uint64_t distance = allocation_distance(encoder, event->address);
    if (distance) {
        put_opcode(out, pymalloc ? OP_FREE_PYMALLOC_RECENT : OP_FREE_RECENT);
        byte_buffer_put_varint_unchecked(out, distance);
        current_state(encoder)->previous_address = event->address;
    } else {
        put_opcode(out, pymalloc ? OP_FREE_PYMALLOC : OP_FREE);
        put_address_delta(encoder, out, event->address);
    }
    push_freed(encoder, event->address);
    encoder->free_count++;
}

int event_encoder_put(struct event_encoder *encoder, struct byte_buffer *out,
                      const struct recorded_event *event, uint32_t thread_id,
                      uint32_t stack_limit)
{
    if (byte_buffer_reserve(out, EVENT_MAX_ENCODED_SIZE) < 0) {
        return -1;
    }
    if (thread_id != encoder->current_thread) {
        put_opcode(out, OP_SWITCH_THREAD);
        byte_buffer_put_varint_unchecked(out, thread_id);
        switch_thread(encoder, thread_id);
        encoder->record_count++;
    }
    switch (event->kind) {
    case EVENT_ALLOCATION:
        if (event->allocator >= ALLOCATOR_COUNT) {
            return 0;
        }
        put_allocation(encoder, out, event, stack_limit);
        break;
    case EVENT_FREE:
    case EVENT_FREE_PYMALLOC:
        put_free(encoder, out, event);
        break;
    case EVENT_MUNMAP:
        put_opcode(out, OP_MUNMAP);
        put_address_delta(encoder, out, event->address);
        byte_buffer_put_varint_unchecked(out, event->size);
        encoder->free_count++;
        break;
    case EVENT_GC:
        put_opcode(out, OP_GC);
        byte_buffer_put_varint_unchecked(out, event->allocator);
        byte_buffer_put_varint_unchecked(out, event->address);
        byte_buffer_put_varint_unchecked(out, event->value);
        byte_buffer_put_varint_unchecked(out, event->size);
        break;
    case EVENT_SNAPSHOT:
        put_opcode(out, OP_SNAPSHOT);
        break;
    case EVENT_SAMPLING:
        put_opcode(out, OP_SAMPLING);
        byte_buffer_put_varint_unchecked(out, event->allocator);
        byte_buffer_put_varint_unchecked(out, event->size);
        break;
    case EVENT_THREAD_NAME:
        put_opcode(out, OP_THREAD);
        byte_buffer_put_varint_unchecked(out, thread_id);
        byte_buffer_put_varint_unchecked(out, event->address);
        byte_buffer_put_varint_unchecked(out, event->value);
        break;
    default:
        return 0;
    }
    encoder->record_count++;
    return 0;
}

int event_encoder_put_thread(struct event_encoder *encoder, struct byte_buffer *out,
                             uint32_t thread_id, int32_t native_tid, uint32_t name_sid)
{
    if (byte_buffer_reserve(out, 1 + 3 * VARINT_MAX_SIZE) < 0) {
        return -1;
    }
    put_opcode(out, OP_THREAD);
    byte_buffer_put_varint_unchecked(out, thread_id);
    byte_buffer_put_varint_unchecked(out, (uint64_t)(uint32_t)native_tid);
    byte_buffer_put_varint_unchecked(out, name_sid);
    encoder->record_count++;
    return 0;
}

int event_encoder_put_time(struct event_encoder *encoder, struct byte_buffer *out,
                           uint64_t ns_since_start)
{
    if (byte_buffer_reserve(out, 1 + VARINT_MAX_SIZE) < 0) {
        return -1;
    }
    put_opcode(out, OP_TIME);
    byte_buffer_put_varint_unchecked(out, ns_since_start);
    encoder->record_count++;
    return 0;
}

int event_encoder_put_rss(struct event_encoder *encoder, struct byte_buffer *out,
                          uint64_t rss_bytes, uint64_t minor_faults, uint64_t major_faults)
{
    if (byte_buffer_reserve(out, 1 + 3 * VARINT_MAX_SIZE) < 0) {
        return -1;
    }
    put_opcode(out, OP_RSS);
    byte_buffer_put_varint_unchecked(out, rss_bytes);
    byte_buffer_put_varint_unchecked(out, minor_faults);
    byte_buffer_put_varint_unchecked(out, major_faults);
    encoder->record_count++;
    return 0;
}
