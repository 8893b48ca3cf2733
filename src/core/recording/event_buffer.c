#include "core/recording/event_buffer.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core/base/thread_local.h"
#include "core/base/tracker_memory.h"


struct thread_buffer {
    int lock;                  /* spin lock: the owner per append, the writer per round */
    int retired;               /* the owning thread has exited; guarded by lock */
    int declared;              /* the writer has declared it; guarded by registry_mutex */
    struct thread_record record; /* guarded by registry_mutex */
    char kernel_name[16];      /* the kernel's name when last read; registry_mutex */
    struct event_block *block; /* guarded by lock */
    struct thread_buffer *next; /* registry link; guarded by registry_mutex */
};

#define THREAD_BUFFER_RETIRED ((struct thread_buffer *)1)

static THREAD_LOCAL struct thread_buffer *this_thread_buffer;

/* Events of threads past their buffer's destructor land here. */
static struct thread_buffer orphan_buffer;
static int orphan_registered; /* guarded by registry_mutex */

/* The registry of buffers and the thread numbering of this recording. */
static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct thread_buffer *registry;
static uint32_t next_thread_id = 1;
static uint32_t threads_this_generation;

static uint64_t next_sequence;   /* atomic: taken under the appending thread's lock */
static uint64_t dropped_events;  /* atomic */

/* Full blocks waiting for the writer, oldest first. */
#define FULL_QUEUE_LIMIT 256
static pthread_mutex_t full_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t full_drained = PTHREAD_COND_INITIALIZER;
static struct event_block *full_head;
static struct event_block *full_tail;
static size_t full_count;
static int collector_running; /* guarded by full_mutex: appenders wait only if set */

/* Spare blocks, so that swapping one in never calls the allocator twice. */
static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct event_block *block_pool;
static size_t block_pool_count;
#define BLOCK_POOL_LIMIT 64

static pthread_key_t retire_key;
static pthread_once_t retire_key_once = PTHREAD_ONCE_INIT;

static void spin_lock(int *lock)
{
    for (unsigned spins = 0; __atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE); spins++) {
        if (spins > 100) {
            sched_yield();
        } else {
            __builtin_ia32_pause();
        }
    }
}

static void spin_unlock(int *lock)
{
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

static struct event_block *block_take(void)
{
    pthread_mutex_lock(&pool_mutex);
    struct event_block *block = block_pool;
    if (block) {
        block_pool = block->next;
        block_pool_count--;
    }
    pthread_mutex_unlock(&pool_mutex);
    if (!block) {
        block = tracker_malloc(sizeof *block);
    }
    if (block) {
        block->next = NULL;
        block->count = 0;
    }
    return block;
}

void event_block_recycle(struct event_block *block)
{
    pthread_mutex_lock(&pool_mutex);
    if (block_pool_count < BLOCK_POOL_LIMIT) {
        block->next = block_pool;
        block_pool = block;
        block_pool_count++;
        block = NULL;
    }
    pthread_mutex_unlock(&pool_mutex);
    tracker_free(block, sizeof *block);
}

/* Runs at thread exit: later events of this thread go to the orphan buffer. */
static void thread_buffer_retire(void *opaque)
{
    struct thread_buffer *buffer = opaque;
    spin_lock(&buffer->lock);
    __atomic_store_n(&buffer->retired, 1, __ATOMIC_RELAXED); /* read without the lock by the writer */
    spin_unlock(&buffer->lock);
    this_thread_buffer = THREAD_BUFFER_RETIRED;
}

static void retire_key_create(void)
{
    pthread_key_create(&retire_key, thread_buffer_retire);
}

static void registry_add_unlocked(struct thread_buffer *buffer)
{
    buffer->record.thread_id = next_thread_id++;
    buffer->declared = 0;
    buffer->next = registry;
    registry = buffer;
    threads_this_generation++;
}

static struct thread_buffer *orphan_buffer_get(void)
{
    pthread_mutex_lock(&registry_mutex);
    if (!orphan_registered) {
        orphan_registered = 1;
        strcpy(orphan_buffer.record.name, "<exiting threads>");
        registry_add_unlocked(&orphan_buffer);
    }
    pthread_mutex_unlock(&registry_mutex);
    return &orphan_buffer;
}

static struct thread_buffer *thread_buffer_create(void)
{
    if (this_thread_buffer == THREAD_BUFFER_RETIRED) {
        return orphan_buffer_get();
    }
    struct thread_buffer *buffer = tracker_calloc(1, sizeof *buffer);
    if (!buffer) {
        return NULL;
    }
    buffer->record.native_tid = (int32_t)gettid();
    prctl(PR_GET_NAME, buffer->record.name, 0, 0, 0);
    memcpy(buffer->kernel_name, buffer->record.name, sizeof buffer->kernel_name);
    pthread_once(&retire_key_once, retire_key_create);
    pthread_mutex_lock(&registry_mutex);
    registry_add_unlocked(buffer);
    pthread_mutex_unlock(&registry_mutex);
    pthread_setspecific(retire_key, buffer);
    this_thread_buffer = buffer;
    return buffer;
}

/* Hands the full block to the writer and installs a fresh one. Returns the
 * fresh block, or NULL when memory ran out. *must_wait is set when the
 * writer is behind and the caller should wait once it dropped its lock. */
static struct event_block *block_replace_locked(struct thread_buffer *buffer, int *must_wait)
{
    struct event_block *full = buffer->block;
    struct event_block *fresh = block_take();
    if (!fresh) {
        return NULL;
    }
    if (full) {
        full->thread_id = buffer->record.thread_id;
        full->next = NULL;
        pthread_mutex_lock(&full_mutex);
        if (full_tail) {
            full_tail->next = full;
        } else {
            full_head = full;
        }
        full_tail = full;
        full_count++;
        *must_wait = collector_running && full_count > FULL_QUEUE_LIMIT;
        pthread_mutex_unlock(&full_mutex);
    }
    buffer->block = fresh;
    return fresh;
}

static void wait_for_writer(void)
{
    pthread_mutex_lock(&full_mutex);
    while (collector_running && full_count > FULL_QUEUE_LIMIT) {
        pthread_cond_wait(&full_drained, &full_mutex);
    }
    pthread_mutex_unlock(&full_mutex);
}

/* Appends one event (native_stack_id: 0, or the allocation's native stack;
 * total_frames: see struct recorded_event). */
static inline __attribute__((always_inline)) void append_event(uint8_t kind, uint8_t allocator,
                                                                uint64_t address, uint64_t size,
                                                                uint32_t value,
                                                                uint32_t native_stack_id,
                                                                uint16_t total_frames)
{
    struct thread_buffer *buffer = this_thread_buffer;
    if (__builtin_expect(buffer == NULL || buffer == THREAD_BUFFER_RETIRED, 0)) {
        buffer = thread_buffer_create();
        if (!buffer) {
            __atomic_fetch_add(&dropped_events, 1, __ATOMIC_RELAXED);
            return;
        }
    }
    int must_wait = 0;
    spin_lock(&buffer->lock);
    struct event_block *block = buffer->block;
    if (__builtin_expect(!block || block->count == EVENT_BLOCK_CAPACITY, 0)) {
        block = block_replace_locked(buffer, &must_wait);
        if (!block) {
            spin_unlock(&buffer->lock);
            __atomic_fetch_add(&dropped_events, 1, __ATOMIC_RELAXED);
            return;
        }
    }
    struct recorded_event *event = &block->events[block->count++];
    event->sequence = __atomic_fetch_add(&next_sequence, 1, __ATOMIC_SEQ_CST);
    event->address = address;
    event->size = size;
    event->value = value;
    event->native_stack_id = native_stack_id;
    event->total_frames = total_frames;
    event->kind = kind;
    event->allocator = allocator;
    spin_unlock(&buffer->lock);
    if (must_wait) {
        wait_for_writer();
    }
}

void event_buffer_append(uint8_t kind, uint8_t allocator, uint64_t address, uint64_t size,
                         uint32_t value)
{
    append_event(kind, allocator, address, size, value, 0, 0);
}

void event_buffer_append_truncated(uint8_t kind, uint8_t allocator, uint64_t address,
                                   uint64_t size, uint32_t value, uint16_t total_frames)
{
    append_event(kind, allocator, address, size, value, 0, total_frames);
}

void event_buffer_append_native(uint8_t kind, uint8_t allocator, uint64_t address, uint64_t size,
                                uint32_t value, uint32_t native_stack_id)
{
    append_event(kind, allocator, address, size, value, native_stack_id, 0);
}

uint64_t event_buffers_sequence(void)
{
    return __atomic_load_n(&next_sequence, __ATOMIC_SEQ_CST);
}

static void list_append(struct event_block **list, struct event_block *block)
{
    block->next = *list;
    *list = block;
}

/* Takes the buffer's filled block, leaving spare in its place. Returns the
 * taken block (NULL when the buffer had nothing) and whether it is retired. */
static struct event_block *buffer_take_block(struct thread_buffer *buffer,
                                             struct event_block **spare, int *retired)
{
    struct event_block *taken = NULL;
    spin_lock(&buffer->lock);
    if (buffer->block && buffer->block->count) {
        taken = buffer->block;
        buffer->block = *spare;
        *spare = NULL;
    }
    *retired = buffer->retired && (!buffer->block || buffer->block->count == 0);
    spin_unlock(&buffer->lock);
    if (taken) {
        taken->thread_id = buffer->record.thread_id;
    }
    return taken;
}

static void buffer_free(struct thread_buffer *buffer)
{
    if (buffer->block) {
        event_block_recycle(buffer->block);
    }
    tracker_free(buffer, sizeof *buffer);
}

void event_buffers_collect(struct event_block **blocks,
                           int (*declare)(const struct thread_record *thread, void *context),
                           void *context)
{
    struct event_block *spare = block_take();
    pthread_mutex_lock(&registry_mutex);
    for (struct thread_buffer **link = &registry; *link;) {
        struct thread_buffer *buffer = *link;
        if (!buffer->declared && declare(&buffer->record, context) == 0) {
            buffer->declared = 1;
        }
        int retired = 0;
        struct event_block *taken = spare ? buffer_take_block(buffer, &spare, &retired) : NULL;
        if (taken) {
            list_append(blocks, taken);
            spare = block_take();
        }
        if (retired && buffer != &orphan_buffer) {
            *link = buffer->next;
            buffer_free(buffer);
        } else {
            link = &buffer->next;
        }
    }
    pthread_mutex_unlock(&registry_mutex);
    if (spare) {
        event_block_recycle(spare);
    }
    pthread_mutex_lock(&full_mutex);
    while (full_head) {
        struct event_block *block = full_head;
        full_head = block->next;
        list_append(blocks, block);
    }
    full_tail = NULL;
    full_count = 0;
    pthread_cond_broadcast(&full_drained);
    pthread_mutex_unlock(&full_mutex);
}

static void discard_full_queue(void)
{
    pthread_mutex_lock(&full_mutex);
    while (full_head) {
        struct event_block *block = full_head;
        full_head = block->next;
        event_block_recycle(block);
    }
    full_tail = NULL;
    full_count = 0;
    pthread_mutex_unlock(&full_mutex);
}

/* Collector state: set while a writer runs, so appenders may wait for it. */
static void set_collector_running(int running)
{
    pthread_mutex_lock(&full_mutex);
    collector_running = running;
    pthread_cond_broadcast(&full_drained);
    pthread_mutex_unlock(&full_mutex);
}

int event_buffers_begin(void)
{
    discard_full_queue();
    pthread_mutex_lock(&registry_mutex);
    next_thread_id = 1;
    threads_this_generation = 0;
    struct thread_buffer *old = registry;
    registry = NULL;
    while (old) {
        struct thread_buffer *buffer = old;
        old = old->next;
        spin_lock(&buffer->lock);
        int retired = buffer->retired;
        if (buffer->block) {
            buffer->block->count = 0;
        }
        spin_unlock(&buffer->lock);
        if (retired && buffer != &orphan_buffer) {
            buffer_free(buffer);
        } else {
            registry_add_unlocked(buffer);
        }
    }
    pthread_mutex_unlock(&registry_mutex);
    __atomic_store_n(&next_sequence, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&dropped_events, 0, __ATOMIC_RELAXED);
    set_collector_running(1);
    return 0;
}

void event_buffers_end(void)
{
    set_collector_running(0);
}

/* Reads thread tid's kernel name from /proc into name (16 bytes, NUL
 * terminated). Returns 0, or -1 when the thread is gone. Raw system calls
 * only: no allocation. */
static int read_kernel_name(int32_t tid, char name[16])
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    char text[17] = "";
    ssize_t size = read(fd, text, 16);
    close(fd);
    if (size <= 0) {
        return -1;
    }
    text[size] = '\0';
    text[strcspn(text, "\n")] = '\0';
    memset(name, 0, 16);
    memcpy(name, text, strnlen(text, 15));
    return 0;
}

void event_buffers_refresh_names(int (*rename)(const struct thread_record *thread, void *context),
                                 void *context)
{
    pthread_mutex_lock(&registry_mutex);
    for (struct thread_buffer *buffer = registry; buffer; buffer = buffer->next) {
        char name[16];
        if (buffer == &orphan_buffer || !buffer->declared ||
            __atomic_load_n(&buffer->retired, __ATOMIC_RELAXED) ||
            read_kernel_name(buffer->record.native_tid, name) < 0 ||
            memcmp(name, buffer->kernel_name, sizeof name) == 0) {
            continue;
        }
        struct thread_record renamed = buffer->record;
        memcpy(renamed.name, name, sizeof name);
        if (rename(&renamed, context) == 0) {
            memcpy(buffer->kernel_name, name, sizeof name);
            buffer->record = renamed;
        }
    }
    pthread_mutex_unlock(&registry_mutex);
}

uint64_t event_buffers_dropped(void)
{
    return __atomic_load_n(&dropped_events, __ATOMIC_RELAXED);
}

uint32_t event_buffers_thread_count(void)
{
    pthread_mutex_lock(&registry_mutex);
    uint32_t count = threads_this_generation;
    pthread_mutex_unlock(&registry_mutex);
    return count;
}

void event_buffers_after_fork_in_child(void)
{
    /* Other threads' buffers and any lock they held are the parent's: start
     * from nothing, without touching what the parent's threads owned. */
    pthread_mutex_init(&registry_mutex, NULL);
    pthread_mutex_init(&full_mutex, NULL);
    pthread_mutex_init(&pool_mutex, NULL);
    pthread_cond_init(&full_drained, NULL);
    registry = NULL;
    orphan_registered = 0;
    memset(&orphan_buffer, 0, sizeof orphan_buffer);
    full_head = full_tail = NULL;
    full_count = 0;
    collector_running = 0;
    block_pool = NULL;
    block_pool_count = 0;
    this_thread_buffer = NULL;
}
