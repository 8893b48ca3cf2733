/*
 * The recorder's writer thread: each round it collects the threads' event
 * blocks, restores the global order of their events, encodes them with the
 * thread declarations, time and RSS records, and writes compressed chunks
 * (or --aggregate snapshots). See recorder.h and recorder_internal.h.
 */
#include "core/recording/recorder_internal.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/recording/aggregate_writer.h"
#include "core/format/capture_format.h"
#include "core/recording/live_table.h"
#include "core/recording/rolling_pprof.h"
#include "core/base/signal_free_thread.h"
#include "core/base/tracker_memory.h"

/* A chunk is written once it holds this much, or is this old. An event
 * waits up to a round to be collected, then up to CHUNK_MAX_AGE_NS and a
 * round for its chunk to be written: 50 ms keeps what a SIGKILL loses under
 * 100 ms with room for the writer being scheduled late, and chunks of a
 * busy program still hold tens of thousands of events. */
#define CHUNK_TARGET_SIZE (1u << 20)
#define CHUNK_MAX_AGE_NS (50u * 1000u * 1000u)
#define ROUND_INTERVAL_NS (10u * 1000u * 1000u)
#define ROUND_MIN_INTERVAL_NS (1u * 1000u * 1000u)
#define IDLE_ROUND_INTERVAL_NS (100u * 1000u * 1000u)
/* Kernel thread names are re-read this often, and after pthread_setname_np. */
#define NAME_REFRESH_INTERVAL_NS (1000u * 1000u * 1000u)

static int thread_names_changed; /* atomic: set by recorder_note_thread_renamed */

static int staged_array_reserve(struct staged_array *array, size_t wanted)
{
    if (wanted <= array->capacity) {
        return 0;
    }
    size_t capacity = array->capacity ? array->capacity : 4096;
    while (capacity < wanted) {
        capacity *= 2;
    }
    /* Fresh slots must not look filled in any round (rounds start at 1).
     * The first array comes zeroed from calloc, whose fresh pages stay
     * untouched until a slot is used. */
    struct staged_event *grown =
        array->items ? tracker_realloc(array->items, array->capacity * sizeof *grown,
                                       capacity * sizeof *grown)
                     : tracker_calloc(capacity, sizeof *grown);
    if (!grown) {
        return -1;
    }
    if (array->items) {
        memset(grown + array->capacity, 0, (capacity - array->capacity) * sizeof *grown);
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
    if (recorder.window_round == UINT32_MAX) { /* after 2^32 rounds: clear once */
        memset(recorder.window.items, 0, recorder.window.capacity * sizeof *recorder.window.items);
        recorder.window_round = 0;
    }
    recorder.window_round++;
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
    live_table_describe_thread(thread->thread_id, thread->native_tid, thread->name);
    if (declarations->count == sizeof declarations->records / sizeof declarations->records[0]) {
        return -1; /* declared in a later round */
    }
    declarations->records[declarations->count++] = *thread;
    return 0;
}

static int encode_thread_declarations(void)
{
    struct thread_declarations *declarations = &recorder.declarations;
    if (recorder.ring_mode) {
        for (size_t index = 0; index < declarations->count; index++) {
            const struct thread_record *thread = &declarations->records[index];
            const char *name = thread->name;
            recorder_ring_declare_thread(thread->thread_id, thread->native_tid,
                                         intern_string(name, strnlen(name, sizeof thread->name)));
        }
    }
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
        if (recorder.ring_mode) {
            recorder_ring_take(staged);
        } else {
            live_table_apply_from_thread(&staged->event, staged->thread_id);
        }
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
    if (recorder.ring_mode) {
        int rss_due = recorder.rss_interval_ns &&
                      now - recorder.last_rss_ns >= recorder.rss_interval_ns;
        if (rss_due) {
            recorder.last_rss_ns = now;
        }
        recorder_ring_end_round(now, rss_due);
        return 0;
    }
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

/* The capture cannot be written (the disk is full, or gone): the
 * recording stops at once, so that it costs the program nothing more and
 * no later write retries in vain, and the user learns it now, in one line,
 * not only at exit (a program may run for days after). The capture keeps
 * what was written before: whole chunks, or the last whole snapshot. */
static void stop_after_write_failure(void)
{
    __atomic_store_n(&recorder_active_flag, 0, __ATOMIC_RELAXED);
    if (recorder.write_failure_announced) {
        return;
    }
    recorder.write_failure_announced = 1;
    if (recorder.file.descriptor_lost) {
        return; /* capture_writer.c told the user already */
    }
    const char *path = recorder.streaming ? recorder.file.path : recorder.aggregate_path;
    char message[PATH_MAX + 256];
    int length = snprintf(message, sizeof message,
                          "memlyze: cannot write the capture %s: %s; recording stopped, the "
                          "capture keeps what was written before\n",
                          path && path[0] ? path : "(unknown path)",
                          strerror(recorder.file.error_number));
    if (length > 0) {
        size_t size = (size_t)length < sizeof message ? (size_t)length : sizeof message - 1;
        ssize_t ignored = write(STDERR_FILENO, message, size);
        (void)ignored; /* nothing better to do when stderr is gone too */
    }
}

static void flush_chunk(uint64_t now)
{
    if (recorder.chunk.size && recorder.streaming && !recorder.write_failure_announced) {
        if (capture_writer_write_events(&recorder.file, recorder.chunk.data,
                                        recorder.chunk.size) < 0) {
            stop_after_write_failure();
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
    uint64_t now = recorder_monotonic_ns();
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

void recorder_writer_wake(void)
{
    sem_post(&recorder.wake_semaphore);
}

/* Nonzero when the writer must act before its wait is over: a stop, a
 * flush, or a seal wanted (or no longer wanted) and not yet followed. */
static int writer_has_work(int *stop)
{
    pthread_mutex_lock(&recorder.wake_mutex);
    *stop = recorder.stop_requested;
    int flush = recorder.flush_requested != recorder.flush_completed;
    pthread_mutex_unlock(&recorder.wake_mutex);
    int wanted = __atomic_load_n(&recorder.seal_wanted, __ATOMIC_ACQUIRE) > 0;
    int sealed = __atomic_load_n(&recorder.sealed, __ATOMIC_RELAXED);
    int dump = !sealed && recorder.ring_mode && recorder_ring_dump_wanted();
    return *stop || flush || wanted != sealed || dump;
}

/* Waits for the next round (a sealed capture has none: it waits for work).
 * Returns nonzero when the writer must stop. */
static int wait_for_next_round(void)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    uint64_t nanoseconds = (uint64_t)deadline.tv_nsec + recorder.wait_ns;
    deadline.tv_sec += (time_t)(nanoseconds / 1000000000u);
    deadline.tv_nsec = (long)(nanoseconds % 1000000000u);
    int stop = 0;
    while (!writer_has_work(&stop)) {
        int waited = __atomic_load_n(&recorder.sealed, __ATOMIC_RELAXED)
                         ? sem_wait(&recorder.wake_semaphore)
                         : sem_timedwait(&recorder.wake_semaphore, &deadline);
        if (waited < 0 && errno == ETIMEDOUT) {
            break;
        }
    }
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

/* The wait before the --aggregate snapshot after one taken after waiting
 * previous: twice as long, up to the interval (recorder_internal.h). */
static uint64_t next_aggregate_wait(uint64_t previous)
{
    uint64_t doubled = previous * 2;
    return doubled < recorder.aggregate_interval_ns ? doubled : recorder.aggregate_interval_ns;
}

/* In --aggregate mode, rewrites the capture when its wait has passed
 * (always when final). A failed write leaves the previous snapshot. */
static void write_aggregate_if_due(int final)
{
    uint64_t now = recorder_monotonic_ns();
    struct live_table_totals totals;
    live_table_get_totals(&totals);
    uint64_t peak_bytes =
        totals.sampled ? (uint64_t)totals.weighted_peak.bytes : totals.peak_bytes;
    if (peak_bytes != recorder.aggregate_peak_bytes) {
        recorder.aggregate_peak_bytes = peak_bytes;
        recorder.aggregate_peak_time_ns = now - recorder.start_ns;
    }
    if (!recorder.aggregate_interval_ns || recorder.write_failure_announced ||
        (!final && now - recorder.last_aggregate_ns < recorder.aggregate_wait_ns)) {
        return;
    }
    recorder.last_aggregate_ns = now;
    recorder.aggregate_wait_ns = next_aggregate_wait(recorder.aggregate_wait_ns);
    struct aggregate_snapshot_context context = {
        .path = recorder.aggregate_path,
        .header_payload = &recorder.header_payload,
        .time_ns = now - recorder.start_ns,
        .peak_time_ns = recorder.aggregate_peak_time_ns,
        .tracker_memory_peak = tracker_memory_peak(),
        .thread_count = event_buffers_thread_count(),
        .final = final,
    };
    if (aggregate_writer_write(&context) < 0) {
        if (!recorder.file.error_number) {
            recorder.file.error_number = errno ? errno : EIO;
        }
        stop_after_write_failure();
    }
}

void recorder_writer_final_round(void)
{
    writer_round(1);
    write_aggregate_if_due(1);
    rolling_pprof_write_if_due(recorder_monotonic_ns(), 1);
}

static void *writer_thread_main(void *unused)
{
    (void)unused;
    recorder_thread_busy = 1;
    if (recorder.ring_mode) {
        /* How `memlyze dump PID` knows a ring recording runs there. */
        pthread_setname_np(pthread_self(), "memlyze-ring");
    }
    while (!wait_for_next_round()) {
        uint64_t served = flush_requests_pending();
        /* A sealed capture takes no more events: flushes return at once. */
        if (!recorder_writer_follow_seal()) {
            adjust_round_wait(writer_round(0));
            write_aggregate_if_due(0);
            rolling_pprof_write_if_due(recorder_monotonic_ns(), 0);
            if (recorder.ring_mode) {
                recorder_ring_serve_dumps();
            }
        }
        flush_requests_complete(served);
    }
    uint64_t served = flush_requests_pending();
    if (!recorder_writer_follow_seal()) {
        recorder_writer_final_round();
        if (recorder.ring_mode) {
            recorder_ring_dump(RING_DUMP_EXIT, 0);
        }
    }
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
        recorder_writer_wake();
        while (recorder.flush_completed < wanted) {
            pthread_cond_wait(&recorder.flush_condition, &recorder.wake_mutex);
        }
        pthread_mutex_unlock(&recorder.wake_mutex);
    }
    pthread_mutex_unlock(&recorder.control_mutex);
    return running ? 0 : -1;
}

void recorder_note_thread_renamed(void)
{
    __atomic_store_n(&thread_names_changed, 1, __ATOMIC_RELEASE);
}

/* --- set-up and tear-down ------------------------------------------------ */

void recorder_writer_reset(const struct recorder_options *options)
{
    recorder.stop_requested = 0;
    recorder.start_ns = recorder_monotonic_ns();
    recorder.rss_interval_ns = options->rss_interval_ns;
    recorder.round_interval_ns = ROUND_INTERVAL_NS;
    if (options->rss_interval_ns && options->rss_interval_ns < recorder.round_interval_ns) {
        recorder.round_interval_ns = options->rss_interval_ns < ROUND_MIN_INTERVAL_NS
                                         ? ROUND_MIN_INTERVAL_NS
                                         : options->rss_interval_ns;
    }
    recorder.wait_ns = recorder.round_interval_ns;
    recorder.last_rss_ns = 0;
    event_encoder_reset(&recorder.encoder);
    memset(&recorder.cursor, 0, sizeof recorder.cursor);
    memset(&recorder.native_cursor, 0, sizeof recorder.native_cursor);
    memset(&recorder.declarations, 0, sizeof recorder.declarations);
    recorder.next_sequence_to_write = 0;
    byte_buffer_clear(&recorder.chunk);
    recorder.pending.count = 0;
}

int recorder_writer_start(void)
{
    return signal_free_thread_start(&recorder.writer_thread, writer_thread_main, NULL);
}

void recorder_writer_release_memory(void)
{
    byte_buffer_release(&recorder.chunk);
    staged_array_release(&recorder.pending);
    staged_array_release(&recorder.window);
    rss_reader_close(&recorder.rss);
    recorder_ring_release();
}
