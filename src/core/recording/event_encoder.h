/*
 * Turns recorded events, already in global order, into capture records
 * (capture_format.h). Keeps the per-chunk delta state and running totals.
 */
#ifndef MEMLYZE_EVENT_ENCODER_H
#define MEMLYZE_EVENT_ENCODER_H

#include <stdint.h>

#include "core/format/address_history.h"
#include "core/base/byte_buffer.h"
#include "core/recording/event_buffer.h"

#define RECENT_ALLOCATION_SLOTS 4096u /* power of two */
#define FREED_LOOKUP_SLOTS 16384u     /* power of two */

/* A recent allocation the writer may refer to by distance. */
struct recent_allocation {
    uint64_t address;
    uint32_t ordinal_plus_one; /* its place among its state's allocations; 0 = none */
    uint32_t chunk;            /* the chunk it belongs to (slots of others are empty) */
    uint32_t state;            /* the address state it was counted in */
};

/* Where an address was last pushed into a freed history, by a hash of the
 * address: finding it then takes one look instead of a scan of the
 * history (most allocations are at fresh addresses, which a scan misses
 * only after FREED_HISTORY compares). Never trusted without checking the
 * history itself, so stale or colliding slots only cost a reference the
 * writer could have used. */
struct freed_lookup_slot {
    uint32_t pushed_at; /* the history's count + 1 at the push, or 0 */
    uint32_t state;
};

struct event_encoder {
    uint32_t current_thread; /* 0: none yet in this chunk */
    uint32_t state_index;    /* current_thread's address state */
    uint64_t record_count;
    uint64_t allocation_count;
    uint64_t allocated_bytes;
    uint64_t free_count;
    /* The largest native stack id defined in the capture so far: an
     * allocation's larger id is dropped (written as OP_ALLOC). */
    uint32_t native_stack_limit;
    /* Per chunk: each thread's address state (address_history.h), where
     * recent allocations went and freed addresses are (by address hash). */
    struct address_state_threads threads;
    struct address_state states[ADDRESS_STATES];
    uint32_t chunk_number; /* told apart so that a new chunk needs no clearing */
    struct recent_allocation recent[RECENT_ALLOCATION_SLOTS];
    struct freed_lookup_slot freed_lookup[FREED_LOOKUP_SLOTS];
};

/* Resets the delta state: each chunk decodes from the same start. */
void event_encoder_begin_chunk(struct event_encoder *encoder);

/* Starts a new capture: totals at zero and a first chunk. The lookup
 * tables are not cleared (their ~260 KiB of slots a first recording would
 * otherwise touch at once): a new chunk number empties the recent
 * allocations, and a freed lookup is always checked against the history. */
void event_encoder_reset(struct event_encoder *encoder);

/*
 * Appends the records for event, made by thread_id. stack_limit is the
 * largest stack id defined in the capture so far: a larger id (from a
 * thread that raced a restart) is written as 0. Returns 0 or -1 (no memory).
 */
int event_encoder_put(struct event_encoder *encoder, struct byte_buffer *out,
                      const struct recorded_event *event, uint32_t thread_id,
                      uint32_t stack_limit);

/* Appends OP_THREAD. */
int event_encoder_put_thread(struct event_encoder *encoder, struct byte_buffer *out,
                             uint32_t thread_id, int32_t native_tid, uint32_t name_sid);
/* Appends OP_TIME and OP_RSS. */
int event_encoder_put_time(struct event_encoder *encoder, struct byte_buffer *out,
                           uint64_t ns_since_start);
int event_encoder_put_rss(struct event_encoder *encoder, struct byte_buffer *out,
                          uint64_t rss_bytes, uint64_t minor_faults, uint64_t major_faults);

#endif
