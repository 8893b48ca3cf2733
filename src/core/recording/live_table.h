/*
 * The live table: what is allocated right now, kept in memory by the writer
 * thread, which sees every event in the global order. Used by recordings
 * that want answers in-process (memlyze.tracemalloc, memlyze.mprofile) and
 * by the --aggregate mode, which writes only what this table holds.
 *
 * It keeps address -> (size, stack id, allocator) for every live block, the
 * traced bytes now and at their peak, and per-stack figures: live bytes and
 * blocks, the same at the latest peak, and totals allocated.
 *
 * Rules: malloc-family blocks, pymalloc blocks and anonymous mappings are
 * kept apart, as in capture_analysis.h (an OP_FREE releases only a
 * malloc-family block, and so on). An allocation at a live address replaces
 * the old block. An munmap releases the mappings starting at its address,
 * in turn, up to its size (trimming the front of the last one); an munmap
 * that starts inside a mapping is not followed (the capture analysis is
 * exact; this table serves the Python-level APIs). An EVENT_NEW_REFERENCE
 * gives the live block at its address (any family) its stack, keeping the
 * size: tracemalloc's rule for an object reused from a free list; the block
 * moves between the stacks' live figures, and counts as no allocation.
 *
 * Sampling: the table knows the recording's sampling scheme
 * (live_table_set_sampling, then EVENT_SAMPLING events) and gives each
 * block the weight 1/p of its chance p to be recorded (capture_sampling_keep_probability),
 * so the weighted_* figures estimate the whole program (see
 * stack_figures.h); the exact figures stay those of the recorded blocks.
 *
 * Thread-safety: one mutex guards everything. The writer applies events
 * between live_table_lock() and live_table_unlock(); every other function
 * takes the mutex itself.
 */
#ifndef MEMLYZE_LIVE_TABLE_H
#define MEMLYZE_LIVE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/recording/stack_figures.h"
#include "core/recording/thread_figures.h"

struct recorded_event;

struct live_table_block {
    uint64_t address;
    /* Bit fields keep a block at 32 bytes with its thread and the frame
     * count of a cut stack (no user-space block reaches 2^48 bytes). */
    uint64_t size : 48;
    uint64_t total_frames : 16; /* frames of the cut stack; 0: stack_id holds them all */
    uint32_t stack_id;
    uint32_t allocator : 8;  /* ALLOCATOR_* */
    uint32_t thread_id : 24; /* the allocating thread (thread_figures.h bounds it) */
    double weight;           /* 1/p: how many blocks of the whole it stands for */
};
_Static_assert(sizeof(struct live_table_block) == 32, "a live block stays 32 bytes");

struct live_table_stack {
    uint32_t stack_id;
    uint64_t live_bytes;
    uint64_t live_count;
    uint64_t peak_bytes; /* held at the latest peak */
    uint64_t peak_count;
    uint64_t total_bytes; /* allocated since the table was enabled or cleared */
    uint64_t total_count;
    struct weighted_amount weighted_live; /* estimates of the whole */
    struct weighted_amount weighted_peak;
    struct weighted_amount weighted_total;
};

struct live_table_totals {
    uint64_t current_bytes;
    uint64_t current_count;
    uint64_t peak_bytes;
    uint64_t peak_count;
    uint64_t allocation_count;
    uint64_t allocated_bytes;
    uint64_t free_count;
    int sampled; /* a sampling scheme applied since the table was enabled */
    struct weighted_amount weighted_heap;
    struct weighted_amount weighted_peak;
    struct weighted_amount weighted_allocated;
};

/* Empties the table and turns it on. Returns 0 (it cannot fail). */
int live_table_enable(void);
/* Turns the table off and frees its memory. */
void live_table_disable(void);
/* Sets the sampling scheme of the blocks applied from now on: mode is a
 * CAPTURE_SAMPLING_* value (0 every allocation, 1 bytes of mean interval
 * mean, 2 one allocation in mean). live_table_enable resets it to 0. */
void live_table_set_sampling(uint32_t mode, uint64_t mean);
/* Nonzero while enabled. */
int live_table_enabled(void);

/* Writer side: applies one event; call between lock and unlock. Events of
 * kinds other than allocations, frees, munmaps, sampling changes and thread
 * names are ignored. live_table_apply is live_table_apply_from_thread with
 * thread 0. */
void live_table_lock(void);
void live_table_apply(const struct recorded_event *event);
void live_table_apply_from_thread(const struct recorded_event *event, uint32_t thread_id);
void live_table_unlock(void);

/*
 * Per-thread figures (the live view's per-thread selector): off by
 * default; live_table_keep_threads(1) turns them on (call before events
 * arrive: blocks added before are not in them), and live_table_enable
 * turns them off. live_table_describe_thread records a thread's kernel
 * name (the writer calls it for each thread it declares).
 */
void live_table_keep_threads(int keep);
void live_table_describe_thread(uint32_t thread_id, int32_t native_tid, const char *name);

struct live_table_thread {
    uint32_t thread_id;
    int32_t native_tid;
    char name[16]; /* the kernel's name, NUL-terminated unless 16 bytes long */
    uint32_t name_sid; /* the name the program gave it (interned), 0: none */
    uint64_t live_bytes;
    uint64_t live_count;
};

/* Stores in *threads a copy of every thread seen (freed with
 * live_table_free_threads). Returns 0 or -1 (no memory). */
int live_table_copy_threads(struct live_table_thread **threads, size_t *count);
void live_table_free_threads(struct live_table_thread *threads, size_t count);
/* As live_table_copy_stacks, for what thread_id holds now: only stack_id,
 * live_bytes and live_count are filled in (the rest is 0). */
int live_table_copy_thread_stacks(uint32_t thread_id, struct live_table_stack **stacks,
                                  size_t *count);

/* Current and peak traced bytes and the event counts. */
void live_table_get_totals(struct live_table_totals *totals);

/*
 * Stores in *blocks a consistent copy of every live block (tracker heap,
 * freed with live_table_free_blocks) and their number in *count. Returns 0,
 * or -1 when memory ran out.
 */
int live_table_copy_blocks(struct live_table_block **blocks, size_t *count);
void live_table_free_blocks(struct live_table_block *blocks, size_t count);

/* Stores in *stacks a copy of the figures of every stack that allocated
 * (freed with live_table_free_stacks). Returns 0 or -1 (no memory). */
int live_table_copy_stacks(struct live_table_stack **stacks, size_t *count);
void live_table_free_stacks(struct live_table_stack *stacks, size_t count);

/* Finds the live block at address (any kind). Returns 1 and fills *block,
 * or 0 when nothing live starts there. */
int live_table_find(uint64_t address, struct live_table_block *block);

/* Forgets every block and figure (tracemalloc.clear_traces()). */
void live_table_clear(void);
/* Makes the peak the current figures (tracemalloc.reset_peak()). */
void live_table_reset_peak(void);

/* Bytes of memory the table holds: its blocks, address maps and per-stack
 * figures (what grows with the traces, as tracemalloc's own tables). */
size_t live_table_memory(void);

/* In a forked child: the writer may have held the mutex at the fork. */
void live_table_after_fork_in_child(void);

#endif
