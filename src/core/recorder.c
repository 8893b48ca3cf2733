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
#include "native_intern.h"
#include "live_table.h"
#include "aggregate_writer.h"
#include "rss.h"
#include "sampler.h"
#include "tracker_memory.h"

/* A chunk is written once it holds this much, or is this old: a killed
 * process loses at most the last CHUNK_MAX_AGE_NS of events. */
#define CHUNK_TARGET_SIZE (1u << 20)
#define CHUNK_MAX_AGE_NS (100u * 1000u * 1000u)
#define ROUND_INTERVAL_NS (10u * 1000u * 1000u)
#define ROUND_MIN_INTERVAL_NS (1u * 1000u * 1000u)
#define IDLE_ROUND_INTERVAL_NS (100u * 1000u * 1000u)
/* Kernel thread names are re-read this often, and after pthread_setname_np. */
#define NAME_REFRESH_INTERVAL_NS (1000u * 1000u * 1000u)

int recorder_active_flag;
THREAD_LOCAL int recorder_thread_busy;
static int thread_names_changed; /* atomic: set by recorder_note_thread_renamed */

/* An event with the thread that made it, waiting for its turn. */
struct staged_event {
    struct recorded_event event;
    uint32_t thread_id;
    uint32_t round; /* in the window: filled in this round of the writer */
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
    pthread_cond_t flush_condition; /* signalled when a round completes flushes */
    uint64_t flush_requested;       /* guarded by wake_mutex */
    uint64_t flush_completed;       /* guarded by wake_mutex */

    int streaming;                  /* events go to a capture file */
    uint64_t aggregate_interval_ns; /* nonzero: --aggregate snapshots */
    uint64_t last_aggregate_ns;
    uint64_t aggregate_peak_bytes;   /* the live table's peak at the last round */
    uint64_t aggregate_peak_time_ns; /* since start: the round that saw it grow */
    char *aggregate_path;
    struct byte_buffer header_payload;

    uint64_t start_ns; /* CLOCK_MONOTONIC at start */
    uint64_t round_interval_ns;
    uint64_t wait_ns; /* before the next round: adjust_round_wait() */
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
    uint32_t window_round; /* slots filled in this round are the window's */
    struct thread_declarations declarations;
    uint64_t last_name_refresh_ns;
    struct native_cursor native_cursor;
} recorder = {
    .control_mutex = PTHREAD_MUTEX_INITIALIZER,
    .wake_mutex = PTHREAD_MUTEX_INITIALIZER,
    .wake_condition = PTHREAD_COND_INITIALIZER,
    .flush_condition = PTHREAD_COND_INITIALIZER,
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
    /* Fresh slots must not look filled in any round (rounds start at 1). */
    memset(grown + array->capacity, 0, (capacity - array->capacity) * sizeof *grown);
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
    slot->round = recorder.window_round;
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
    /* A new round number empties the window without touching it. */
    recorder.window_round = recorder.window_round == UINT32_MAX ? 1 : recorder.window_round + 1;
    if (recorder.window_round == 1 && recorder.window.capacity) {
        memset(recorder.window.items, 0, recorder.window.capacity * sizeof *recorder.window.items);
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
    if (!recorder.streaming) {
        declarations->count = 0;
        return 0;
    }
    uint32_t names[64];
    for (size_t index = 0; index < declarations->count; index++) {
        const char *name = declarations->records[index].name;
        names[index] = intern_string(name, strnlen(name, sizeof declarations->records[0].name));
    }
    if (intern_tables_encode_new(&recorder.chunk, &recorder.cursor) < 0 ||
        native_tables_encode_new(&recorder.chunk, &recorder.native_cursor,
                                 recorder.cursor.strings_written) < 0) {
        return -1;
    }
    recorder.encoder.native_stack_limit = recorder.native_cursor.stacks_written;
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
    live_table_lock();
    for (; index < length; index++) {
        const struct staged_event *staged = &recorder.window.items[index];
        if (staged->round != recorder.window_round) {
            break;
        }
        live_table_apply(&staged->event);
        if (recorder.streaming &&
            event_encoder_put(&recorder.encoder, &recorder.chunk, &staged->event,
                              staged->thread_id, stack_limit) < 0) {
            live_table_unlock();
            return -1;
        }
    }
    live_table_unlock();
    recorder.next_sequence_to_write += index;
    for (size_t rest = index; rest < length; rest++) {
        const struct staged_event *staged = &recorder.window.items[rest];
        if (staged->round == recorder.window_round) {
            staged_array_push(&recorder.pending, &staged->event, staged->thread_id);
        }
    }
    return 0;
}

static int encode_time_and_rss(uint64_t now)
{
    if (!recorder.streaming) {
        return 0;
    }
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
    if (recorder.chunk.size && recorder.streaming) {
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

/* Re-reads the kernel's thread names after a rename was noted, and every
 * NAME_REFRESH_INTERVAL_NS (prctl(PR_SET_NAME) is not hooked). */
static void refresh_thread_names(uint64_t now)
{
    int noted = __atomic_exchange_n(&thread_names_changed, 0, __ATOMIC_ACQ_REL);
    if (!noted && now - recorder.last_name_refresh_ns < NAME_REFRESH_INTERVAL_NS) {
        return;
    }
    recorder.last_name_refresh_ns = now;
    event_buffers_refresh_names(declare_thread, &recorder.declarations);
}

/* One round of the writer: collect, order, encode, maybe write a chunk. */
/* Collects, orders and encodes what the threads recorded; returns how many
 * events that was. */
static size_t writer_round(int final)
{
    uint64_t limit = event_buffers_sequence();
    struct event_block *blocks = NULL;
    event_buffers_collect(&blocks, declare_thread, &recorder.declarations);
    size_t length = order_events(blocks, limit);
    uint64_t now = monotonic_ns();
    refresh_thread_names(now);
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
    return length;
}

/* The wait before the next round: the round interval while events flow;
 * doubling, up to IDLE_ROUND_INTERVAL_NS, while none come (an idle
 * program then costs the writer ten wake-ups a second, not a hundred; RSS
 * is sampled at most every round). */
static void adjust_round_wait(size_t events)
{
    if (events) {
        recorder.wait_ns = recorder.round_interval_ns;
    } else if (recorder.wait_ns < IDLE_ROUND_INTERVAL_NS) {
        recorder.wait_ns *= 2;
        if (recorder.wait_ns > IDLE_ROUND_INTERVAL_NS) {
            recorder.wait_ns = IDLE_ROUND_INTERVAL_NS;
        }
    }
}

static int wait_for_next_round(void)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    uint64_t nanoseconds = (uint64_t)deadline.tv_nsec + recorder.wait_ns;
    deadline.tv_sec += (time_t)(nanoseconds / 1000000000u);
    deadline.tv_nsec = (long)(nanoseconds % 1000000000u);
    pthread_mutex_lock(&recorder.wake_mutex);
    while (!recorder.stop_requested && recorder.flush_requested == recorder.flush_completed) {
        if (pthread_cond_timedwait(&recorder.wake_condition, &recorder.wake_mutex, &deadline) ==
            ETIMEDOUT) {
            break;
        }
    }
    int stop = recorder.stop_requested;
    pthread_mutex_unlock(&recorder.wake_mutex);
    return stop;
}

/* The flush requests made so far (a round started now serves them all). */
static uint64_t flush_requests_pending(void)
{
    pthread_mutex_lock(&recorder.wake_mutex);
    uint64_t requested = recorder.flush_requested;
    pthread_mutex_unlock(&recorder.wake_mutex);
    return requested;
}

/* Tells recorder_flush() callers up to request number served are done. */
static void flush_requests_complete(uint64_t served)
{
    pthread_mutex_lock(&recorder.wake_mutex);
    if (served > recorder.flush_completed) {
        recorder.flush_completed = served;
    }
    pthread_cond_broadcast(&recorder.flush_condition);
    pthread_mutex_unlock(&recorder.wake_mutex);
}

/* In --aggregate mode, rewrites the capture when the interval has passed
 * (always when final). A failed write leaves the previous snapshot. */
static void write_aggregate_if_due(int final)
{
    uint64_t now = monotonic_ns();
    struct live_table_totals totals;
    live_table_get_totals(&totals);
    uint64_t peak_bytes =
        totals.sampled ? (uint64_t)totals.weighted_peak.bytes : totals.peak_bytes;
    if (peak_bytes != recorder.aggregate_peak_bytes) {
        recorder.aggregate_peak_bytes = peak_bytes;
        recorder.aggregate_peak_time_ns = now - recorder.start_ns;
    }
    if (!recorder.aggregate_interval_ns ||
        (!final && now - recorder.last_aggregate_ns < recorder.aggregate_interval_ns)) {
        return;
    }
    recorder.last_aggregate_ns = now;
    struct aggregate_snapshot_context context = {
        .path = recorder.aggregate_path,
        .header_payload = &recorder.header_payload,
        .time_ns = now - recorder.start_ns,
        .peak_time_ns = recorder.aggregate_peak_time_ns,
        .tracker_memory_peak = tracker_memory_peak(),
        .thread_count = event_buffers_thread_count(),
    };
    if (aggregate_writer_write(&context) < 0 && !recorder.file.error_number) {
        recorder.file.error_number = errno ? errno : EIO;
    }
}

static void *writer_thread_main(void *unused)
{
    (void)unused;
    recorder_thread_busy = 1;
    while (!wait_for_next_round()) {
        uint64_t served = flush_requests_pending();
        adjust_round_wait(writer_round(0));
        write_aggregate_if_due(0);
        flush_requests_complete(served);
    }
    uint64_t served = flush_requests_pending();
    writer_round(1);
    write_aggregate_if_due(1);
    flush_requests_complete(served);
    return NULL;
}

int recorder_flush(void)
{
    pthread_mutex_lock(&recorder.control_mutex);
    int running = recorder.running && recorder.owner_pid == (int)getpid();
    if (running) {
        pthread_mutex_lock(&recorder.wake_mutex);
        uint64_t wanted = ++recorder.flush_requested;
        pthread_cond_signal(&recorder.wake_condition);
        while (recorder.flush_completed < wanted) {
            pthread_cond_wait(&recorder.flush_condition, &recorder.wake_mutex);
        }
        pthread_mutex_unlock(&recorder.wake_mutex);
    }
    pthread_mutex_unlock(&recorder.control_mutex);
    return running ? 0 : -1;
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
                                               (uint64_t)sysconf(_SC_PAGESIZE)) ||
                 byte_buffer_append_tlv_varint(out, HEADER_SAMPLE_SEED, options->sample_seed);
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
    recorder.wait_ns = recorder.round_interval_ns;
    recorder.last_rss_ns = 0;
    memset(&recorder.encoder, 0, sizeof recorder.encoder);
    memset(&recorder.cursor, 0, sizeof recorder.cursor);
    memset(&recorder.native_cursor, 0, sizeof recorder.native_cursor);
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
/* pthread_atfork prepare: a child must inherit whole tables. */
static void recorder_before_fork_handler(void)
{
    intern_tables_before_fork();
    native_tables_before_fork();
}

static void recorder_after_fork_in_parent_handler(void)
{
    native_tables_after_fork_in_parent();
    intern_tables_after_fork_in_parent();
}

static void register_fork_handler(void)
{
    pthread_atfork(recorder_before_fork_handler, recorder_after_fork_in_parent_handler,
                   recorder_after_fork_handler);
}

/* The recording's sampling scheme as a SAMPLER_* mode (the values of
 * CAPTURE_SAMPLING_*) and its mean
 * (bytes, or N of one allocation in N), for the live table's weights. */
static uint32_t live_table_sample_mode(const struct recorder_options *options)
{
    return options->sample_interval     ? SAMPLER_BY_BYTES
           : options->sample_rate < 1.0 ? SAMPLER_BY_ALLOCATIONS
                                         : SAMPLER_EVERY_ALLOCATION;
}

static uint64_t live_table_sample_mean(const struct recorder_options *options)
{
    if (options->sample_interval) {
        return options->sample_interval;
    }
    double gap = options->sample_rate > 0.0 ? 1.0 / options->sample_rate : 1.0;
    return gap < 1.0 ? 1 : (uint64_t)(gap + 0.5);
}

/* Sets up where the recording goes: a capture file of events, --aggregate
 * snapshots, or nothing but the live table (path NULL). Returns 0, or -1
 * with a reason in error. */
static int open_output(const struct recorder_options *options, const struct byte_buffer *header,
                       char *error, size_t error_size)
{
    memset(&recorder.file, 0, sizeof recorder.file);
    recorder.file.fd = -1;
    recorder.streaming = options->path && !options->aggregate_interval_ns;
    recorder.aggregate_interval_ns = options->path ? options->aggregate_interval_ns : 0;
    if (options->live_table || !recorder.streaming) {
        live_table_enable();
        live_table_set_sampling(live_table_sample_mode(options), live_table_sample_mean(options));
    } else {
        live_table_disable();
    }
    if (recorder.streaming) {
        return capture_writer_open(&recorder.file, options->path, options->overwrite, header,
                                   error, error_size);
    }
    if (!recorder.aggregate_interval_ns) {
        return 0;
    }
    size_t path_size = strlen(options->path) + 1;
    byte_buffer_release(&recorder.header_payload);
    if (recorder.aggregate_path) {
        tracker_free(recorder.aggregate_path, strlen(recorder.aggregate_path) + 1);
    }
    recorder.aggregate_path = tracker_malloc(path_size);
    if (!recorder.aggregate_path ||
        byte_buffer_append(&recorder.header_payload, header->data, header->size) < 0) {
        snprintf(error, error_size, "out of memory starting the recording");
        return -1;
    }
    memcpy(recorder.aggregate_path, options->path, path_size);
    recorder.last_aggregate_ns = monotonic_ns();
    recorder.aggregate_peak_bytes = 0;
    recorder.aggregate_peak_time_ns = 0;
    struct aggregate_snapshot_context context = {.path = options->path,
                                                 .header_payload = header};
    return aggregate_writer_create(&context, options->overwrite, error, error_size);
}

static void remember_options(const struct recorder_options *options);

static int recorder_start_unlocked(const struct recorder_options *options, char *error,
                                   size_t error_size)
{
    if (recorder.running) {
        snprintf(error, error_size, "a memlyze recording is already running in this process");
        return -1;
    }
    struct byte_buffer header = {0};
    if (intern_tables_reset() < 0 || native_tables_reset() < 0 ||
        encode_header(options, &header) < 0) {
        byte_buffer_release(&header);
        snprintf(error, error_size, "out of memory starting the recording");
        return -1;
    }
    int opened = open_output(options, &header, error, error_size);
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
        if (options->path) {
            unlink(options->path);
        }
        rss_reader_close(&recorder.rss);
        snprintf(error, error_size, "cannot start the writer thread");
        return -1;
    }
    recorder.running = 1;
    recorder.owner_pid = (int)getpid();
    remember_options(options);
    __atomic_store_n(&recorder_active_flag, 1, __ATOMIC_SEQ_CST);
    return 0;
}

/* --- follow-fork ------------------------------------------------------------ */

/* The options of the running recording, kept for a forked child's restart. */
static struct {
    struct recorder_options options;
    char path[4096];
    char child_path[4096 + 24]; /* a follow-fork child's own capture */
    char python_version[64];
    char *command;
    size_t command_size;
    int follow_fork;  /* the running recording follows forks */
    int forked_child; /* this process is a follow-fork child recording */
} remembered;

/* Keeps a copy of options when they ask to follow forks into capture files. */
static void remember_options(const struct recorder_options *options)
{
    remembered.follow_fork = options->follow_fork && options->path &&
                             !options->aggregate_interval_ns &&
                             strlen(options->path) < sizeof remembered.path;
    remembered.forked_child = 0;
    if (!remembered.follow_fork) {
        return;
    }
    remembered.options = *options;
    snprintf(remembered.path, sizeof remembered.path, "%s", options->path);
    snprintf(remembered.python_version, sizeof remembered.python_version, "%s",
             options->python_version ? options->python_version : "");
    const char *command = options->command ? options->command : "";
    tracker_free(remembered.command, remembered.command_size);
    remembered.command_size = strlen(command) + 1;
    remembered.command = tracker_malloc(remembered.command_size);
    if (remembered.command) {
        memcpy(remembered.command, command, remembered.command_size);
    }
    remembered.options.path = remembered.path;
    remembered.options.python_version = remembered.python_version;
    remembered.options.command = remembered.command ? remembered.command : "";
}

/* In a follow-fork child, right after fork: records into <path>.<pid> with
 * the interned tables inherited from the parent (all written again first:
 * the cursor starts at zero). On any failure the child does not record. */
static void restart_in_forked_child(void)
{
    char *path = remembered.child_path;
    snprintf(path, sizeof remembered.child_path, "%s.%d", remembered.path, (int)getpid());
    struct recorder_options options = remembered.options;
    options.path = path;
    options.pid = (uint64_t)getpid();
    options.overwrite = 1;
    struct byte_buffer header = {0};
    char error[256];
    int failed = encode_header(&options, &header) < 0 ||
                 open_output(&options, &header, error, sizeof error) < 0;
    byte_buffer_release(&header);
    if (failed) {
        return;
    }
    recorder_reset_state(&options);
    rss_reader_close(&recorder.rss);
    rss_reader_open(&recorder.rss);
    tracker_memory_reset_peak();
    event_buffers_begin();
    if (start_writer_thread() != 0) {
        event_buffers_end();
        capture_writer_abandon(&recorder.file);
        unlink(path);
        return;
    }
    recorder.running = 1;
    recorder.owner_pid = (int)getpid();
    remembered.forked_child = 1;
    __atomic_store_n(&recorder_active_flag, 1, __ATOMIC_SEQ_CST);
}

void recorder_before_exec(void)
{
    if (remembered.forked_child && recorder.running && recorder.owner_pid == (int)getpid()) {
        char error[256];
        recorder_stop(error, sizeof error);
        unlink(remembered.child_path);
        remembered.forked_child = 0;
    }
}

void recorder_before_exit(void)
{
    if (remembered.forked_child && recorder.running && recorder.owner_pid == (int)getpid()) {
        char error[256];
        recorder_stop(error, sizeof error);
    }
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
    int result = recorder.streaming ? capture_writer_finish(&recorder.file, &footer)
                                    : (recorder.file.error_number ? -1 : 0);
    byte_buffer_release(&footer);
    live_table_disable();
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
    int was_running = recorder.running;
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
    native_tables_after_fork_in_child();
    sampler_after_fork_in_child();
    pthread_cond_init(&recorder.flush_condition, NULL);
    live_table_after_fork_in_child();
    int follow = was_running && remembered.follow_fork;
    remembered.forked_child = 0;
    if (follow) {
        int busy = recorder_thread_busy;
        recorder_thread_busy = 1;
        restart_in_forked_child();
        recorder_thread_busy = busy;
    }
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

void recorder_record_native_allocation(int allocator, uintptr_t address, uint64_t size,
                                       uint32_t stack_id, uint32_t native_stack_id)
{
    event_buffer_append_native(EVENT_ALLOCATION, (uint8_t)allocator, address, size, stack_id,
                               native_stack_id);
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

void recorder_note_thread_renamed(void)
{
    __atomic_store_n(&thread_names_changed, 1, __ATOMIC_RELEASE);
}

void recorder_record_sampling(int mode, uint64_t mean)
{
    event_buffer_append(EVENT_SAMPLING, (uint8_t)mode, 0, mean, 0);
}

void recorder_set_thread_name(const char *name)
{
    uint32_t name_sid = intern_string(name, strlen(name));
    event_buffer_append(EVENT_THREAD_NAME, 0, (uint64_t)gettid(), 0, name_sid);
}
