/*
 * Per-thread event buffers. Each thread appends fixed-size events to a block
 * of its own, under a spin lock that only the writer thread ever contends
 * for; every event takes the next number of one global sequence, so the
 * writer can restore the global order. Full blocks go to a queue for the
 * writer; the writer also takes partly filled blocks every round.
 *
 * Ordering guarantee the writer relies on: an event's sequence number is
 * taken while its thread's lock is held, so once the writer has read the
 * sequence counter (S) and then visited every registered buffer and the full
 * queue, it holds every event numbered below S.
 */
#ifndef MEMLYZE_EVENT_BUFFER_H
#define MEMLYZE_EVENT_BUFFER_H

#include <stddef.h>
#include <stdint.h>

enum event_kind {
    EVENT_ALLOCATION = 1, /* address, size, value = stack id, allocator */
    EVENT_FREE,           /* address */
    EVENT_FREE_PYMALLOC,  /* address */
    EVENT_MUNMAP,         /* address, size */
    EVENT_GC,             /* address = collected, size = duration ns,
                             value = uncollectable, allocator = generation */
    EVENT_SNAPSHOT,
    EVENT_THREAD_NAME,    /* value = name string id */
    EVENT_SAMPLING,       /* allocator = mode, size = mean */
    EVENT_NEW_REFERENCE,  /* address = a live object's block taken again (a
                             free list), value = stack id, total_frames;
                             kept by the live table only */
};

struct recorded_event {
    uint64_t sequence;
    uint64_t address;
    uint64_t size;
    uint32_t value;
    uint32_t native_stack_id; /* EVENT_ALLOCATION with --native; else 0 */
    uint8_t kind;
    uint8_t allocator;
    /* EVENT_ALLOCATION and EVENT_NEW_REFERENCE: the frames of the Python
     * stack when it held more than the recording keeps (at most
     * UINT16_MAX, as tracemalloc counts); 0: the stack id has them all. */
    uint16_t total_frames;
};

#define EVENT_BLOCK_CAPACITY 1024

struct event_block {
    struct event_block *next;
    uint32_t thread_id;
    uint32_t count;
    struct recorded_event events[EVENT_BLOCK_CAPACITY];
};

/* A thread as the writer sees it. */
struct thread_record {
    uint32_t thread_id;  /* 1-based, per recording */
    int32_t native_tid;
    char name[16];       /* the kernel's thread name when first seen */
};

/*
 * Starts a recording generation: buffers of earlier recordings are emptied
 * and renumbered, and the sequence restarts at 0. Call with no writer
 * running. Returns 0 or -1.
 */
int event_buffers_begin(void);

/* Ends the generation: appenders stop waiting for a writer. */
void event_buffers_end(void);

/* Appends one event for the calling thread (any thread, any time). */
void event_buffer_append(uint8_t kind, uint8_t allocator, uint64_t address, uint64_t size,
                         uint32_t value);
/* The same, for an allocation carrying a native stack id. */
/* The same, for an event whose stack was cut at the depth limit:
 * total_frames counts the frames it had. */
void event_buffer_append_truncated(uint8_t kind, uint8_t allocator, uint64_t address,
                                   uint64_t size, uint32_t value, uint16_t total_frames);
void event_buffer_append_native(uint8_t kind, uint8_t allocator, uint64_t address, uint64_t size,
                                uint32_t value, uint32_t native_stack_id);

/* The next sequence number to be handed out. */
uint64_t event_buffers_sequence(void);

/*
 * Writer side. Moves every buffered event into the list *blocks (appended,
 * ownership passes to the caller, give them back with event_block_recycle)
 * and calls declare for every thread not declared before; a thread whose
 * declare returned nonzero is offered again next time. Frees the buffers of
 * exited threads once empty.
 */
void event_buffers_collect(struct event_block **blocks,
                           int (*declare)(const struct thread_record *thread, void *context),
                           void *context);
void event_block_recycle(struct event_block *block);

/*
 * Writer side. Re-reads the kernel name (/proc/self/task/TID/comm) of every
 * declared, live thread and calls rename with the thread's record carrying
 * the new name for each whose kernel name changed since it was last read
 * (names given by recorder_set_thread_name are not kernel names and stay
 * until the kernel name changes). A thread whose rename returned nonzero is
 * offered again next time.
 */
void event_buffers_refresh_names(int (*rename)(const struct thread_record *thread, void *context),
                                 void *context);

/* Number of events discarded because memory ran out (never expected). */
uint64_t event_buffers_dropped(void);
/* Number of threads that recorded in this generation. */
uint32_t event_buffers_thread_count(void);

/* In a forked child: forget the parent's threads and locks. */
void event_buffers_after_fork_in_child(void);

#endif
