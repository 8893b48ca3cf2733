/*
 * Builds the live view's SNAPSHOT frame (live_protocol.h) from the live
 * table (what is allocated now, per stack and per thread) and the interned
 * stacks, frames and strings: stacks are folded into locations (one per
 * frame), each with the bytes it allocated itself and those of its callees.
 *
 * The builder keeps copies of the stacks and frames it has looked up (they
 * never change during a recording), so each snapshot asks the intern tables,
 * whose mutex the program's threads share, only about new ones.
 * Not thread-safe: the server thread owns it.
 */
#ifndef MEMLYZE_LIVE_SNAPSHOT_H
#define MEMLYZE_LIVE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/byte_buffer.h"
#include "core/base/hash_map.h"

struct live_frame_entry;

struct live_snapshot_builder {
    uint32_t *stack_parent; /* indexed by stack id; 0 in slot 0 */
    uint32_t *stack_frame;
    size_t stack_count;     /* stacks looked up: ids below this */
    size_t stack_capacity;
    struct live_frame_entry *frames; /* indexed by frame id; slot 0: no Python frame */
    size_t frame_capacity;
    uint32_t *touched; /* frames with figures in this snapshot */
    size_t touched_count;
    size_t touched_capacity;
    struct hash_map locations; /* (function, file, line) key -> first frame id */
    uint64_t walk; /* numbers each stack walked, for counting it once per frame */
};

/* The figures a snapshot carries besides the live table's. */
struct live_snapshot_figures {
    uint64_t elapsed_ns;
    uint64_t rss_bytes;
    uint64_t peak_rss_bytes;
    uint32_t selected_thread; /* 0: every thread */
};

void live_snapshot_builder_init(struct live_snapshot_builder *builder);
void live_snapshot_builder_release(struct live_snapshot_builder *builder);

/* Appends one SNAPSHOT frame to out. Returns 0, or -1 when memory ran out
 * (out may then hold part of a frame: clear it). */
int live_snapshot_encode(struct live_snapshot_builder *builder,
                         const struct live_snapshot_figures *figures, struct byte_buffer *out);

#endif
