/*
 * The pass behind the `allocations` table: reads a capture's events in
 * order and writes one row per allocation when its block dies (a free, an
 * allocation replacing it at its address, an munmap) or, for blocks still
 * live, when the events end. Memory is bounded by the live heap: only live
 * blocks are held. The small tables that come from events (snapshots, RSS
 * samples, collections) are collected on the way.
 *
 * The heap model is the analysis's (capture_analysis.h): malloc-family,
 * pymalloc and mapping blocks kept apart, an allocation at a live address
 * replaces the block there, a new mapping first unmaps its range, an munmap
 * releases the mappings that start inside its range and cuts those it
 * overlaps: the part unmapped becomes a row of its own (pieces of one
 * allocation are numbered apart), and a hole in the middle of a mapping
 * leaves two live pieces, counted as two blocks from then on, as the
 * analysis's region tree does (capture_analysis_heap.c). The pass keeps its
 * own copy of these rules, over an unordered list of live mappings (each
 * mmap or munmap scans it), because the analysis does not expose blocks
 * with their addresses; the tests compare the two on captures that cut
 * holes and span gaps.
 *
 * Times are those of the last OP_TIME at or before the event; event numbers
 * count every event record from 0, as capture_analysis.c does, so a row is
 * live at event e when allocated_event <= e < freed_event.
 */
#ifndef MEMLYZE_ALLOCATION_PASS_H
#define MEMLYZE_ALLOCATION_PASS_H

#include <stdint.h>

#include "core/analysis/capture_estimates.h"
#include "core/base/byte_buffer.h"
#include "core/base/hash_map.h"
#include "core/exports/arrow_table.h"
#include "core/format/capture_reader.h"

/* A block alive now: the row it will become. */
struct pending_allocation {
    uint64_t allocation; /* 1-based ordinal; 0 marks a free slot */
    uint64_t event;
    uint64_t time_ns;
    uint64_t thread_id;
    uint64_t address; /* on the free list: the next free slot */
    uint64_t size;
    double weight;
    uint32_t allocator;
    uint32_t stack_id;
    uint32_t native_stack_id;
    uint32_t piece;
    /* The event from which this row is a block of its own (its allocation,
     * or the munmap that split it off); NOT_A_BLOCK for a part an munmap
     * took from a block that lived on. */
    uint64_t block_event;
};

#define NOT_A_BLOCK UINT64_MAX

struct snapshot_row {
    uint64_t event;
    uint64_t time_ns;
};

struct rss_row {
    uint64_t time_ns;
    uint64_t rss_bytes;
    uint64_t minor_faults;
    uint64_t major_faults;
};

struct gc_row {
    uint64_t time_ns;
    uint32_t generation;
    uint64_t collected;
    uint64_t uncollectable;
    uint64_t duration_ns;
};

struct allocation_pass {
    struct capture_reader *reader; /* borrowed */
    struct capture_estimates *estimates; /* sampled captures only */
    struct hash_map malloc_live;   /* address -> slot */
    struct hash_map pymalloc_live; /* address -> slot */
    struct byte_buffer mappings;   /* uint64_t slots of live mappings, unordered */
    struct hash_map pieces;        /* allocation -> last piece number, once cut */
    struct byte_buffer slots;      /* struct pending_allocation */
    uint64_t free_slot;            /* UINT64_MAX: none */
    uint64_t allocations;
    uint64_t events;
    uint64_t last_time_ns;
    struct byte_buffer snapshots;  /* struct snapshot_row */
    struct byte_buffer rss;        /* struct rss_row */
    struct byte_buffer gc;         /* struct gc_row */
    /* The heap as the analysis counts it (estimated bytes, size * weight),
     * and its peak: the first event after which it was largest. */
    double heap_bytes;
    uint64_t heap_blocks;
    double peak_bytes;
    uint64_t peak_event;
    int events_done;               /* the reader has no more events */
    uint64_t drain_slot;           /* next slot to write once events are done */
    int finished;                  /* every row written */
};

/* The fields of the allocations table, in column order. */
extern const struct arrow_field allocation_fields[];
extern const size_t allocation_field_count;

/* Starts a pass over reader (borrowed, positioned before its first event).
 * Returns 0 or -1 (memory). */
int allocation_pass_init(struct allocation_pass *pass, struct capture_reader *reader);
void allocation_pass_release(struct allocation_pass *pass);

/*
 * Reads events, appending rows to table (made from allocation_fields), until
 * the table is full or every row is written (pass->finished). rows may be
 * NULL to read through without keeping rows. Returns 0, or -1 with *error
 * filled (a damaged capture, or memory).
 */
int allocation_pass_fill(struct allocation_pass *pass, struct arrow_table *rows,
                         struct capture_error *error);

#endif
