#include "core/recording/thread_figures.h"

#include <string.h>

#include "core/base/tracker_memory.h"

#define NO_FREE_SHARE UINT64_MAX

void thread_figures_init(struct thread_figures *figures)
{
    memset(figures, 0, sizeof *figures);
    hash_map_init(&figures->share_index);
    figures->free_share = NO_FREE_SHARE;
}

void thread_figures_clear(struct thread_figures *figures)
{
    tracker_free(figures->threads, figures->thread_capacity * sizeof *figures->threads);
    tracker_free(figures->shares, figures->share_capacity * sizeof *figures->shares);
    hash_map_release(&figures->share_index);
    thread_figures_init(figures);
}

static uint32_t bounded_thread_id(uint32_t thread_id)
{
    return thread_id > THREAD_FIGURES_MAX_THREAD_ID ? THREAD_FIGURES_MAX_THREAD_ID : thread_id;
}

/* The entry of thread_id, grown into existence; NULL when memory ran out. */
static struct thread_figures_thread *thread_entry(struct thread_figures *figures,
                                                  uint32_t thread_id)
{
    thread_id = bounded_thread_id(thread_id);
    if (thread_id >= figures->thread_capacity) {
        size_t capacity = figures->thread_capacity ? figures->thread_capacity : 16;
        while (capacity <= thread_id) {
            capacity *= 2;
        }
        struct thread_figures_thread *grown =
            tracker_realloc(figures->threads, figures->thread_capacity * sizeof *grown,
                            capacity * sizeof *grown);
        if (!grown) {
            return NULL;
        }
        memset(grown + figures->thread_capacity, 0,
               (capacity - figures->thread_capacity) * sizeof *grown);
        figures->threads = grown;
        figures->thread_capacity = capacity;
    }
    struct thread_figures_thread *thread = &figures->threads[thread_id];
    thread->thread_id = thread_id;
    return thread;
}

static uint64_t share_key(uint32_t thread_id, uint32_t stack_id)
{
    return ((uint64_t)bounded_thread_id(thread_id) << 32) | stack_id;
}

/* A slot for a new share; NO_FREE_SHARE when memory ran out. */
static uint64_t share_slot_take(struct thread_figures *figures)
{
    uint64_t index = figures->free_share;
    if (index != NO_FREE_SHARE) {
        figures->free_share = figures->shares[index].live_bytes;
        return index;
    }
    if (figures->share_count == figures->share_capacity) {
        size_t capacity = figures->share_capacity ? figures->share_capacity * 2 : 256;
        struct thread_stack_share *grown =
            tracker_realloc(figures->shares, figures->share_capacity * sizeof *grown,
                            capacity * sizeof *grown);
        if (!grown) {
            return NO_FREE_SHARE;
        }
        figures->shares = grown;
        figures->share_capacity = capacity;
    }
    return figures->share_count++;
}

int thread_figures_allocate(struct thread_figures *figures, uint32_t thread_id,
                            uint32_t stack_id, uint64_t bytes)
{
    struct thread_figures_thread *thread = thread_entry(figures, thread_id);
    if (!thread) {
        return -1;
    }
    uint64_t key = share_key(thread_id, stack_id);
    uint64_t *found = hash_map_find(&figures->share_index, key);
    struct thread_stack_share *share;
    if (found) {
        share = &figures->shares[*found];
    } else {
        uint64_t index = share_slot_take(figures);
        if (index == NO_FREE_SHARE) {
            return -1;
        }
        if (hash_map_put(&figures->share_index, key, index) < 0) {
            figures->shares[index].live_bytes = figures->free_share;
            figures->free_share = index;
            return -1;
        }
        share = &figures->shares[index];
        *share = (struct thread_stack_share){.thread_id = bounded_thread_id(thread_id),
                                             .stack_id = stack_id};
    }
    share->live_bytes += bytes;
    share->live_count++;
    thread->live_bytes += bytes;
    thread->live_count++;
    return 0;
}

void thread_figures_release(struct thread_figures *figures, uint32_t thread_id,
                            uint32_t stack_id, uint64_t bytes)
{
    uint64_t key = share_key(thread_id, stack_id);
    uint64_t *found = hash_map_find(&figures->share_index, key);
    if (!found) {
        return; /* its allocation ran out of memory here */
    }
    uint64_t index = *found;
    struct thread_stack_share *share = &figures->shares[index];
    struct thread_figures_thread *thread = &figures->threads[share->thread_id];
    share->live_bytes -= bytes;
    share->live_count--;
    thread->live_bytes -= bytes;
    thread->live_count--;
    if (share->live_count == 0) {
        /* Short-lived threads and stacks must not pile up shares. */
        hash_map_remove(&figures->share_index, key, NULL);
        share->live_bytes = figures->free_share;
        share->stack_id = 0;
        share->thread_id = 0;
        figures->free_share = index;
    }
}

void thread_figures_describe(struct thread_figures *figures, uint32_t thread_id,
                             int32_t native_tid, const char *name)
{
    struct thread_figures_thread *thread = thread_entry(figures, thread_id);
    if (thread) {
        thread->native_tid = native_tid;
        memset(thread->name, 0, sizeof thread->name);
        memcpy(thread->name, name, strnlen(name, sizeof thread->name));
    }
}

void thread_figures_name(struct thread_figures *figures, uint32_t thread_id, uint32_t name_sid)
{
    struct thread_figures_thread *thread = thread_entry(figures, thread_id);
    if (thread) {
        thread->name_sid = name_sid;
    }
}

size_t thread_figures_thread_bound(const struct thread_figures *figures)
{
    return figures->thread_capacity;
}

size_t thread_figures_memory(const struct thread_figures *figures)
{
    return figures->thread_capacity * sizeof *figures->threads +
           figures->share_capacity * sizeof *figures->shares +
           hash_map_memory(&figures->share_index);
}
