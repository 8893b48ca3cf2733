/*
 * Per-thread live figures for the live view: the bytes and blocks each
 * thread holds now, and the same split by stack, so that the locations
 * holding most memory can be shown for one thread. A block belongs to the
 * thread that allocated it (a free from another thread still releases it
 * from its allocator's figures), as in memray's per-thread view.
 *
 * Not thread-safe: the live table (live_table.h) owns one and guards it
 * with its mutex. Memory comes from the tracker heap.
 */
#ifndef MEMLYZE_THREAD_FIGURES_H
#define MEMLYZE_THREAD_FIGURES_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/hash_map.h"

/* Thread ids above this share its figures (ids are counted from 1 per
 * recording, so only a program that started 16 million threads gets there). */
#define THREAD_FIGURES_MAX_THREAD_ID 0xFFFFFFu

struct thread_figures_thread {
    uint32_t thread_id; /* 0: not seen yet */
    int32_t native_tid;
    char name[16];      /* the kernel's name; NUL-terminated unless 16 bytes long */
    uint32_t name_sid;  /* a name the program gave (interned string), 0: none */
    uint64_t live_bytes;
    uint64_t live_count;
};

/* What one thread holds through one stack. */
struct thread_stack_share {
    uint32_t thread_id;
    uint32_t stack_id;
    uint64_t live_bytes;
    uint64_t live_count;
};

struct thread_figures {
    struct thread_figures_thread *threads; /* indexed by thread id */
    size_t thread_capacity;
    struct hash_map share_index; /* thread id << 32 | stack id -> index in shares */
    struct thread_stack_share *shares;
    size_t share_count;    /* slots in use or on the free list */
    size_t share_capacity;
    uint64_t free_share;   /* first free slot (chained through live_bytes) */
};

void thread_figures_init(struct thread_figures *figures);
/* Frees everything; figures is empty (and initialised) afterwards. */
void thread_figures_clear(struct thread_figures *figures);

/* Adds one live block of bytes that thread_id allocated through stack_id.
 * Returns 0, or -1 when memory ran out (nothing changed). */
int thread_figures_allocate(struct thread_figures *figures, uint32_t thread_id,
                            uint32_t stack_id, uint64_t bytes);
/* Removes one such block (one the figures never saw is ignored). */
void thread_figures_release(struct thread_figures *figures, uint32_t thread_id,
                            uint32_t stack_id, uint64_t bytes);
/* Records a thread's kernel name (copied, at most 16 bytes kept). */
void thread_figures_describe(struct thread_figures *figures, uint32_t thread_id,
                             int32_t native_tid, const char *name);
/* Records the name the program gave a thread (an interned string id). */
void thread_figures_name(struct thread_figures *figures, uint32_t thread_id, uint32_t name_sid);

/* The thread ids seen so far run from 1 to this bound (exclusive). */
size_t thread_figures_thread_bound(const struct thread_figures *figures);

/* Bytes of memory held. */
size_t thread_figures_memory(const struct thread_figures *figures);

#endif
