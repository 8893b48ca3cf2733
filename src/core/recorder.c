/*
 * The recorder: starts and stops a recording, and runs the writer thread
 * that restores the global order of all threads' events, encodes them and
 * writes them out in compressed chunks. See recorder.h and event_buffer.h.
 */
#include "recorder.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture_format.h"
#include "capture_writer.h"
#include "event_buffer.h"
#include "event_encoder.h"
#include "intern_table.h"
#include "rss.h"
#include "tracker_memory.h"

/* A chunk is written once it holds this much, or is this old: a killed
 * process loses at most the last CHUNK_MAX_AGE_NS of events. */
#define CHUNK_TARGET_SIZE (1u << 20)
#define CHUNK_MAX_AGE_NS (100u * 1000u * 1000u)
#define ROUND_INTERVAL_NS (10u * 1000u * 1000u)
#define ROUND_MIN_INTERVAL_NS (1u * 1000u * 1000u)

int recorder_active_flag;
THREAD_LOCAL int recorder_thread_busy;

/* An event with the thread that made it, waiting for its turn. */
struct staged_event {
    struct recorded_event event;
    uint32_t thread_id; /* 0 marks an empty window slot */
};

struct staged_array {
    struct staged_event *items;
    size_t count;
    size_t capacity;
};

/* Threads the writer must declare in its next records. */
struct thread_declarations {
    struct thread_record records[64];
    size_t count;
};

/* Everything the writer thread owns while a recording runs. Fields marked
 * "control" are touched by start/stop under control_mutex only. */
static struct {
    pthread_mutex_t control_mutex;
    int running;          /* control: a writer thread exists in owner_pid */
    int owner_pid;        /* control */
    uint64_t generation;  /* control */
    pthread_t writer_thread;

    pthread_mutex_t wake_mutex;
    pthread_cond_t wake_condition;
    int stop_requested; /* guarded by wake_mutex */

    uint64_t start_ns; /* CLOCK_MONOTONIC at start */
    uint64_t round_interval_ns;
    uint64_t rss_interval_ns;
    uint64_t last_rss_ns;
    struct rss_reader rss;

    struct capture_writer file;
    struct byte_buffer chunk;
    uint64_t chunk_started_ns;
    struct event_encoder encoder;
    struct intern_cursor cursor;
    uint64_t next_sequence_to_write;
    struct staged_array pending;
    struct staged_array window;
    struct thread_declarations declarations;
} recorder = {
    .control_mutex = PTHREAD_MUTEX_INITIALIZER,
    .wake_mutex = PTHREAD_MUTEX_INITIALIZER,
    .wake_condition = PTHREAD_COND_INITIALIZER,
};

static uint64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static uint64_t realtime_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int staged_array_reserve(struct staged_array *array, size_t wanted)
{
    if (wanted <= array->capacity) {
        return 0;
    }
    size_t capacity = array->capacity ? array->capacity : 4096;
    while (capacity < wanted) {
        capacity *= 2;
    }
    struct staged_event *grown =
        tracker_realloc(array->items, array->capacity * sizeof *grown, capacity * sizeof *grown);
    if (!grown) {
        return -1;
    }
    array->items = grown;
    array->capacity = capacity;
    return 0;
}

static void staged_array_release(struct staged_array *array)
{
    tracker_free(array->items, array->capacity * sizeof *array->items);
    memset(array, 0, sizeof *array);
}

static int staged_array_push(struct staged_array *array, const struct recorded_event *event,
                             uint32_t thread_id)
{
    if (staged_array_reserve(array, array->count + 1) < 0) {
        return -1;
    }
    array->items[array->count].event = *event;
    array->items[array->count].thread_id = thread_id;
    array->count++;
    return 0;
}

/* --- ordering ------------------------------------------------------------ */

/* Puts one event into the dense window if its turn has come (sequence below
 * limit), else back into pending for a later round. */
static void stage_event(const struct recorded_event *event, uint32_t thread_id, uint64_t limit,
                        struct staged_array *later)
{
    uint64_t first = recorder.next_sequence_to_write;
    if (event->sequence < first) {
        return; /* only possible for events of an abandoned earlier round */
    }
    if (event->sequence >= limit) {
        staged_array_push(later, event, thread_id);
        return;
    }
    struct staged_event *slot = &recorder.window.items[event->sequence - first];
    slot->event = *event;
    slot->thread_id = thread_id;
}

/* Sorts everything collected so far into the window [next, limit) and keeps
 * the rest pending. Returns the window length. */
static size_t order_events(struct event_block *blocks, uint64_t limit)
{
    size_t length = (size_t)(limit - recorder.next_sequence_to_write);
    recorder.window.count = 0;
    if (staged_array_reserve(&recorder.window, length) < 0) {
        length = 0;
        limit = recorder.next_sequence_to_write;
    }
    if (length) {
        memset(recorder.window.items, 0, length * sizeof *recorder.window.items);
    }
    recorder.window.count = length;

    struct staged_array later = {0};
    for (size_t index = 0; index < recorder.pending.count; index++) {
        const struct staged_event *staged = &recorder.pending.items[index];
        stage_event(&staged->event, staged->thread_id, limit, &later);
    }
    while (blocks) {
        struct event_block *block = blocks;
        blocks = block->next;
        for (uint32_t index = 0; index < block->count; index++) {
            stage_event(&block->events[index], block->thread_id, limit, &later);
        }
        event_block_recycle(block);
    }
    staged_array_release(&recorder.pending);
    recorder.pending = later;
    return length;
}

/* --- encoding ------------------------------------------------------------ */

static int declare_thread(const struct thread_record *thread, void *context)
{
    struct thread_declarations *declarations = context;
    if (declarations->count == sizeof declarations->records / sizeof declarations->records[0]) {
        return -1; /* declared in a later round */
    }
    declarations->records[declarations->count++] = *thread;
    return 0;
}

static int encode_thread_declarations(void)
{
    struct thread_declarations *declarations = &recorder.declarations;
    uint32_t names[64];
    for (size_t index = 0; index < declarations->count; index++) {
        const char *name = declarations->records[index].name;
        names[index] = intern_string(name, strnlen(name, sizeof declarations->records[0].name));
    }
    if (intern_tables_encode_new(&recorder.chunk, &recorder.cursor) < 0) {
        return -1;
    }
    for (size_t index = 0; index < declarations->count; index++) {
        const struct thread_record *thread = &declarations->records[index];
        if (event_encoder_put_thread(&recorder.encoder, &recorder.chunk, thread->thread_id,
                                     thread->native_tid, names[index]) < 0) {
            return -1;
        }
    }
    declarations->count = 0;
    return 0;
}

/* Encodes the window up to its first hole (a hole can only come from a
 * round that ran out of memory); what follows waits for the next round. */
static int encode_window(size_t length)
{
    uint32_t stack_limit = intern_stack_count();
    size_t index = 0;
    for (; index < length; index++) {
        const struct staged_event *staged = &recorder.window.items[index];
        if (!staged->thread_id) {
            break;
        }
        if (event_encoder_put(&recorder.encoder, &recorder.chunk, &staged->event,
                              staged->thread_id, stack_limit) < 0) {
            return -1;
        }
    }
    recorder.next_sequence_to_write += index;
    for (size_t rest = index; rest < length; rest++) {
        const struct staged_event *staged = &recorder.window.items[rest];
        if (staged->thread_id) {
            staged_array_push(&recorder.pending, &staged->event, staged->thread_id);
        }
    }
    return 0;
}

static int encode_time_and_rss(uint64_t now)
{
    if (event_encoder_put_time(&recorder.encoder, &recorder.chunk, now - recorder.start_ns) < 0) {
        return -1;
    }
    if (!recorder.rss_interval_ns || now - recorder.last_rss_ns < recorder.rss_interval_ns) {
        return 0;
    }
    recorder.last_rss_ns = now;
    uint64_t minor = 0;
    uint64_t major = 0;
    rss_page_faults(&minor, &major);
    return event_encoder_put_rss(&recorder.encoder, &recorder.chunk,
                                 rss_reader_current(&recorder.rss), minor, major);
}

static void flush_chunk(uint64_t now)
{
    if (recorder.chunk.size) {
        if (capture_writer_write_chunk(&recorder.file, CHUNK_KIND_EVENTS, recorder.chunk.data,
                                       recorder.chunk.size) < 0) {
            /* The disk is full or gone: stop costing the program anything. */
            __atomic_store_n(&recorder_active_flag, 0, __ATOMIC_RELAXED);
        }
    }
    byte_buffer_clear(&recorder.chunk);
    event_encoder_begin_chunk(&recorder.encoder);
    recorder.chunk_started_ns = now;
}

/* One round of the writer: collect, order, encode, maybe write a chunk. */
static void writer_round(int final)
{
    uint64_t limit = event_buffers_sequence();
    struct event_block *blocks = NULL;
    event_buffers_collect(&blocks, declare_thread, &recorder.declarations);
    size_t length = order_events(blocks, limit);
    uint64_t now = monotonic_ns();
    if (recorder.chunk.size == 0) {
        recorder.chunk_started_ns = now;
    }
    if (encode_thread_declarations() < 0 || encode_window(length) < 0 ||
        encode_time_and_rss(now) < 0) {
        recorder.file.error_number = recorder.file.error_number ? recorder.file.error_number
                                                                : ENOMEM;
        __atomic_store_n(&recorder_active_flag, 0, __ATOMIC_RELAXED);
    }
    if (final || recorder.chunk.size >= CHUNK_TARGET_SIZE ||
        now - recorder.chunk_started_ns >= CHUNK_MAX_AGE_NS) {
        flush_chunk(now);
    }
}

static int wait_for_next_round(void)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    uint64_t nanoseconds = (uint64_t)deadline.tv_nsec + recorder.round_interval_ns;
    deadline.tv_sec += (time_t)(nanoseconds / 1000000000u);
    deadline.tv_nsec = (long)(nanoseconds % 1000000000u);
    pthread_mutex_lock(&recorder.wake_mutex);
    while (!recorder.stop_requested) {
        if (pthread_cond_timedwait(&recorder.wake_condition, &recorder.wake_mutex, &deadline) ==
            ETIMEDOUT) {
            break;
        }
    }
    int stop = recorder.stop_requested;
    pthread_mutex_unlock(&recorder.wake_mutex);
    return stop;
}

static void *writer_thread_main(void *unused)
{
    (void)unused;
    recorder_thread_busy = 1;
    while (!wait_for_next_round()) {
        writer_round(0);
    }
    writer_round(1);
    return NULL;
}

/* --- start and stop ------------------------------------------------------ */

static int encode_header(const struct recorder_options *options, struct byte_buffer *out)
{
    const char *python = options->python_version ? options->python_version : "";
    const char *command = options->command ? options->command : "";
    int failed = byte_buffer_append_tlv_varint(out, HEADER_PID, options->pid) ||
                 byte_buffer_append_tlv_bytes(out, HEADER_PYTHON_VERSION, python,
                                              strlen(python)) ||
                 byte_buffer_append_tlv_bytes(out, HEADER_COMMAND, command, strlen(command)) ||
                 byte_buffer_append_tlv_varint(out, HEADER_START_TIME_NS, realtime_ns()) ||
                 byte_buffer_append_tlv_varint(out, HEADER_FLAGS, options->flags) ||
                 byte_buffer_append_tlv_varint(out, HEADER_MAX_STACK_DEPTH,
                                               options->max_stack_depth) ||
                 byte_buffer_append_tlv_double(out, HEADER_SAMPLE_RATE, options->sample_rate) ||
                 byte_buffer_append_tlv_varint(out, HEADER_SAMPLE_INTERVAL,
                                               options->sample_interval) ||
                 byte_buffer_append_tlv_varint(out, HEADER_RSS_INTERVAL_NS,
                                               options->rss_interval_ns) ||
                 byte_buffer_append_tlv_varint(out, HEADER_PAGE_SIZE,
                                               (uint64_t)sysconf(_SC_PAGESIZE));
    return failed ? -1 : 0;
}

static void recorder_reset_state(const struct recorder_options *options)
{
    recorder.stop_requested = 0;
    recorder.start_ns = monotonic_ns();
    recorder.rss_interval_ns = options->rss_interval_ns;
    recorder.round_interval_ns = ROUND_INTERVAL_NS;
    if (options->rss_interval_ns && options->rss_interval_ns < recorder.round_interval_ns) {
        recorder.round_interval_ns = options->rss_interval_ns < ROUND_MIN_INTERVAL_NS
                                         ? ROUND_MIN_INTERVAL_NS
                                         : options->rss_interval_ns;
    }
    recorder.last_rss_ns = 0;
    memset(&recorder.encoder, 0, sizeof recorder.encoder);
    memset(&recorder.cursor, 0, sizeof recorder.cursor);
    memset(&recorder.declarations, 0, sizeof recorder.declarations);
    recorder.next_sequence_to_write = 0;
    byte_buffer_clear(&recorder.chunk);
    recorder.pending.count = 0;
}

/* The writer thread must not take signals meant for the program. */
static int start_writer_thread(void)
{
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    int result = pthread_create(&recorder.writer_thread, NULL, writer_thread_main, NULL);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return result;
}

static void recorder_after_fork_handler(void)
{
    recorder_after_fork_in_child();
}

static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;
static void register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, recorder_after_fork_handler);
}

static int recorder_start_unlocked(const struct recorder_options *options, char *error,
                                   size_t error_size)
{
    if (recorder.running) {
        snprintf(error, error_size, "a memlyze recording is already running in this process");
        return -1;
    }
    struct byte_buffer header = {0};
    if (intern_tables_reset() < 0 || encode_header(options, &header) < 0) {
        byte_buffer_release(&header);
        snprintf(error, error_size, "out of memory starting the recording");
        return -1;
    }
    int opened = capture_writer_open(&recorder.file, options->path, options->overwrite, &header,
                                     error, error_size);
    byte_buffer_release(&header);
    if (opened < 0) {
        return -1;
    }
    recorder_reset_state(options);
    rss_reader_open(&recorder.rss);
    tracker_memory_reset_peak();
    event_buffers_begin();
    recorder.generation++;
    if (start_writer_thread() != 0) {
        event_buffers_end();
        capture_writer_abandon(&recorder.file);
        unlink(options->path);
        rss_reader_close(&recorder.rss);
        snprintf(error, error_size, "cannot start the writer thread");
        return -1;
    }
    recorder.running = 1;
    recorder.owner_pid = (int)getpid();
    __atomic_store_n(&recorder_active_flag, 1, __ATOMIC_SEQ_CST);
    return 0;
}

int recorder_start(const struct recorder_options *options, char *error, size_t error_size)
{
    pthread_once(&fork_handler_once, register_fork_handler);
    pthread_mutex_lock(&recorder.control_mutex);
    int result = recorder_start_unlocked(options, error, error_size);
    pthread_mutex_unlock(&recorder.control_mutex);
    return result;
}

static int encode_footer(struct byte_buffer *out, uint64_t end_ns)
{
    const struct event_encoder *encoder = &recorder.encoder;
    int failed =
        byte_buffer_append_tlv_varint(out, FOOTER_END_TIME_NS, end_ns - recorder.start_ns) ||
        byte_buffer_append_tlv_varint(out, FOOTER_EVENT_COUNT, encoder->record_count) ||
        byte_buffer_append_tlv_varint(out, FOOTER_ALLOCATION_COUNT, encoder->allocation_count) ||
        byte_buffer_append_tlv_varint(out, FOOTER_ALLOCATED_BYTES, encoder->allocated_bytes) ||
        byte_buffer_append_tlv_varint(out, FOOTER_FREE_COUNT, encoder->free_count) ||
        byte_buffer_append_tlv_varint(out, FOOTER_TRACKER_MEMORY_PEAK, tracker_memory_peak()) ||
        byte_buffer_append_tlv_varint(out, FOOTER_THREAD_COUNT, event_buffers_thread_count()) ||
        byte_buffer_append_tlv_varint(out, FOOTER_DROPPED_EVENTS, event_buffers_dropped());
    return failed ? -1 : 0;
}

static void release_writer_memory(void)
{
    byte_buffer_release(&recorder.chunk);
    staged_array_release(&recorder.pending);
    staged_array_release(&recorder.window);
    rss_reader_close(&recorder.rss);
}

static int recorder_stop_unlocked(char *error, size_t error_size)
{
    if (!recorder.running || recorder.owner_pid != (int)getpid()) {
        return 0;
    }
    __atomic_store_n(&recorder_active_flag, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&recorder.wake_mutex);
    recorder.stop_requested = 1;
    pthread_cond_signal(&recorder.wake_condition);
    pthread_mutex_unlock(&recorder.wake_mutex);
    pthread_join(recorder.writer_thread, NULL);
    event_buffers_end();
    recorder.running = 0;

    struct byte_buffer footer = {0};
    if (encode_footer(&footer, monotonic_ns()) < 0 && !recorder.file.error_number) {
        recorder.file.error_number = ENOMEM;
    }
    int result = capture_writer_finish(&recorder.file, &footer);
    byte_buffer_release(&footer);
    if (result < 0) {
        snprintf(error, error_size, "capture file is incomplete: %s",
                 strerror(recorder.file.error_number));
    }
    release_writer_memory();
    return result;
}

int recorder_stop(char *error, size_t error_size)
{
    pthread_mutex_lock(&recorder.control_mutex);
    int result = recorder_stop_unlocked(error, error_size);
    pthread_mutex_unlock(&recorder.control_mutex);
    return result;
}

void recorder_after_fork_in_child(void)
{
    /* The writer thread did not come along; its file belongs to the parent.
     * Forget both without touching the file, and make the locks usable. */
    __atomic_store_n(&recorder_active_flag, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_init(&recorder.control_mutex, NULL);
    pthread_mutex_init(&recorder.wake_mutex, NULL);
    pthread_cond_init(&recorder.wake_condition, NULL);
    if (recorder.running && recorder.file.fd >= 0) {
        close(recorder.file.fd);
    }
    recorder.file.fd = -1;
    recorder.running = 0;
    event_buffers_after_fork_in_child();
    intern_tables_after_fork_in_child();
}

/* --- interning and events -------------------------------------------------- */

uint64_t recorder_generation(void)
{
    return __atomic_load_n(&recorder.generation, __ATOMIC_RELAXED);
}

uint32_t recorder_intern_string(const char *text, size_t size)
{
    return intern_string(text, size);
}

uint32_t recorder_intern_frame(uint32_t function_sid, uint32_t file_sid, uint32_t line,
                               uint32_t flags)
{
    return intern_frame(function_sid, file_sid, line, flags);
}

uint32_t recorder_intern_stack(uint32_t parent_stack_id, uint32_t frame_id)
{
    return intern_stack(parent_stack_id, frame_id);
}

void recorder_record_allocation(int allocator, uintptr_t address, uint64_t size,
                                uint32_t stack_id)
{
    event_buffer_append(EVENT_ALLOCATION, (uint8_t)allocator, address, size, stack_id);
}

void recorder_record_free(uintptr_t address)
{
    event_buffer_append(EVENT_FREE, 0, address, 0, 0);
}

void recorder_record_pymalloc_free(uintptr_t address)
{
    event_buffer_append(EVENT_FREE_PYMALLOC, 0, address, 0, 0);
}

void recorder_record_munmap(uintptr_t address, uint64_t size)
{
    event_buffer_append(EVENT_MUNMAP, 0, address, size, 0);
}

void recorder_record_gc(uint32_t generation, uint64_t collected, uint64_t uncollectable,
                        uint64_t duration_ns)
{
    event_buffer_append(EVENT_GC, (uint8_t)generation, collected, duration_ns,
                        (uint32_t)uncollectable);
}

void recorder_record_snapshot(void)
{
    event_buffer_append(EVENT_SNAPSHOT, 0, 0, 0, 0);
}

void recorder_set_thread_name(const char *name)
{
    uint32_t name_sid = intern_string(name, strlen(name));
    event_buffer_append(EVENT_THREAD_NAME, 0, (uint64_t)gettid(), 0, name_sid);
}
