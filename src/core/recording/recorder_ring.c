/*
 * The flight recorder (--ring): the writer keeps the last window of events
 * in an event ring (event_ring.h) instead of writing them, and the events
 * the window leaves behind go to the live table, which so holds the heap at
 * the window's start. A dump is a complete capture: the header (with
 * HEADER_FLAG_RING and what the window is), every definition, the threads,
 * the live table's blocks as allocations at the window's start, then the
 * window's events with their time marks, the footer and trailer.
 *
 * Dumps go to path, then path.1, path.2, ... (an existing file is skipped;
 * with overwrite, path itself is replaced), each written whole by the writer thread: signal
 * handlers only ask (an atomic counter and the wake semaphore). See
 * recorder.h and recorder_internal.h.
 */
#include "core/recording/recorder_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/tracker_memory.h"
#include "core/format/capture_format.h"
#include "core/recording/live_table.h"

/* A dump's events chunk is written once it holds this much. */
#define RING_DUMP_CHUNK_SIZE (1u << 20)
/* How many taken names path.<n> a dump skips before it gives up. */
#define RING_DUMP_SUFFIX_LIMIT 100000u

/* A thread as the dumps declare it: its latest name. */
struct ring_thread {
    uint32_t thread_id;
    int32_t native_tid;
    uint32_t name_sid;
};

/* The threads declared so far (writer thread only). */
static struct {
    struct ring_thread *items;
    size_t count;
    size_t capacity;
} threads;

/* --- the window ------------------------------------------------------------- */

static void to_recorded_event(const struct ring_event *event, struct recorded_event *out)
{
    memset(out, 0, sizeof *out);
    out->address = event->address;
    out->size = event->size;
    out->value = event->value;
    out->native_stack_id = event->native_stack_id;
    out->kind = event->kind;
    out->allocator = event->allocator;
}

/* Eviction: the block's events become part of the heap at the window's
 * start. The live table is locked by the caller. */
static void apply_to_live_table(const struct ring_block *block, void *unused)
{
    (void)unused;
    for (uint32_t index = 0; index < block->count; index++) {
        struct recorded_event event;
        to_recorded_event(&block->events[index], &event);
        live_table_apply(&event);
    }
}

static void forget_threads(void)
{
    if (threads.items) {
        tracker_free(threads.items, threads.capacity * sizeof *threads.items);
    }
    memset(&threads, 0, sizeof threads);
}

int recorder_ring_open(const struct recorder_options *options, const struct byte_buffer *header,
                       char *error, size_t error_size)
{
    struct stat existing;
    if (!options->path || !options->path[0]) {
        snprintf(error, error_size, "--ring needs a capture file to dump into");
        return -1;
    }
    if (!options->overwrite && lstat(options->path, &existing) == 0) {
        errno = EEXIST;
        snprintf(error, error_size, "cannot create capture file %s: %s", options->path,
                 strerror(EEXIST));
        return -1;
    }
    /* A forked child's copy of its parent's ring is the parent's: forget it. */
    memset(&recorder.ring, 0, sizeof recorder.ring);
    memset(&threads, 0, sizeof threads);
    if (event_ring_init(&recorder.ring, options->ring_events, options->ring_window_ns,
                        options->ring_max_bytes, apply_to_live_table, NULL) < 0) {
        snprintf(error, error_size,
                 "the ring of %llu events does not fit in its memory cap of %llu bytes",
                 (unsigned long long)options->ring_events,
                 (unsigned long long)options->ring_max_bytes);
        return -1;
    }
    if (recorder_keep_output(options->path, header) < 0) {
        event_ring_free(&recorder.ring);
        snprintf(error, error_size, "out of memory starting the recording");
        return -1;
    }
    recorder.ring_overwrite = options->overwrite;
    recorder.ring_dump_at_rss = options->ring_dump_at_rss;
    recorder.ring_rss_armed = 1;
    recorder.ring_rss_crossed = 0;
    recorder.ring_rss_dump_due = 0;
    recorder.ring_dump_count = 0;
    recorder.ring_next_suffix = 0;
    __atomic_store_n(&recorder.ring_dump_requests, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&recorder.ring_death_signal, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&recorder.ring_mode, 1, __ATOMIC_RELEASE);
    return 0;
}

static struct ring_thread *find_thread(uint32_t thread_id)
{
    for (size_t index = 0; index < threads.count; index++) {
        if (threads.items[index].thread_id == thread_id) {
            return &threads.items[index];
        }
    }
    return NULL;
}

void recorder_ring_declare_thread(uint32_t thread_id, int32_t native_tid, uint32_t name_sid)
{
    struct ring_thread *known = find_thread(thread_id);
    if (known) {
        known->native_tid = native_tid;
        known->name_sid = name_sid;
        return;
    }
    if (threads.count == threads.capacity) {
        size_t capacity = threads.capacity ? threads.capacity * 2 : 16;
        struct ring_thread *grown =
            tracker_realloc(threads.items, threads.capacity * sizeof *grown,
                            capacity * sizeof *grown);
        if (!grown) {
            return; /* the dumps then show this thread's events as its number's */
        }
        threads.items = grown;
        threads.capacity = capacity;
    }
    threads.items[threads.count++] =
        (struct ring_thread){.thread_id = thread_id, .native_tid = native_tid,
                             .name_sid = name_sid};
}

void recorder_ring_take(const struct staged_event *staged)
{
    const struct recorded_event *event = &staged->event;
    if (event->kind == EVENT_THREAD_NAME) {
        struct ring_thread *known = find_thread(staged->thread_id);
        if (known) {
            known->name_sid = event->value;
        }
    }
    struct ring_event kept = {
        .address = event->address,
        .size = event->size,
        .value = event->value,
        .native_stack_id = event->native_stack_id,
        .thread_id = staged->thread_id,
        .kind = event->kind,
        .allocator = event->allocator,
    };
    if (event_ring_push(&recorder.ring, &kept) < 0) {
        /* No block for it: it joins the heap at the window's start. */
        live_table_apply(event);
    }
}

void recorder_ring_end_round(uint64_t now, int rss_due)
{
    uint64_t threshold = recorder.ring_dump_at_rss;
    uint64_t rss = rss_due || threshold ? rss_reader_current(&recorder.rss) : 0;
    live_table_lock();
    event_ring_mark_time(&recorder.ring, now - recorder.start_ns, rss_due ? rss : 0);
    live_table_unlock();
    if (!threshold || !rss) {
        return;
    }
    /* Once per crossing: armed again after RSS fell 10% below the threshold. */
    if (recorder.ring_rss_armed && rss >= threshold) {
        recorder.ring_rss_armed = 0;
        recorder.ring_rss_crossed = rss;
        recorder.ring_rss_dump_due = 1;
    } else if (!recorder.ring_rss_armed && rss < threshold - threshold / 10) {
        recorder.ring_rss_armed = 1;
    }
}

int recorder_ring_dump_wanted(void)
{
    return recorder.ring_rss_dump_due ||
           __atomic_load_n(&recorder.ring_dump_requests, __ATOMIC_ACQUIRE) > 0;
}

void recorder_ring_serve_dumps(void)
{
    if (recorder.ring_rss_dump_due) {
        recorder.ring_rss_dump_due = 0;
        recorder_ring_dump(RING_DUMP_RSS, 0);
    }
    /* Requests made while a dump is written are served by one more dump. */
    if (__atomic_exchange_n(&recorder.ring_dump_requests, 0, __ATOMIC_ACQ_REL) > 0) {
        recorder_ring_dump(RING_DUMP_REQUEST, 0);
    }
}

void recorder_ring_release(void)
{
    __atomic_store_n(&recorder.ring_mode, 0, __ATOMIC_RELEASE);
    event_ring_free(&recorder.ring);
    forget_threads();
}

/* --- the API for signal handlers ------------------------------------------------ */

int recorder_ring_active(void)
{
    int owner = __atomic_load_n(&recorder.sealable_pid, __ATOMIC_ACQUIRE);
    return __atomic_load_n(&recorder.ring_mode, __ATOMIC_ACQUIRE) && owner != 0 &&
           owner == (int)getpid();
}

int recorder_request_ring_dump(void)
{
    if (!recorder_ring_active()) {
        return -1;
    }
    __atomic_fetch_add(&recorder.ring_dump_requests, 1, __ATOMIC_ACQ_REL);
    recorder_writer_wake();
    return 0;
}

void recorder_note_death_signal(int signal_number)
{
    __atomic_store_n(&recorder.ring_death_signal, signal_number, __ATOMIC_RELEASE);
}

/* --- writing a dump ---------------------------------------------------------------- */

/* What one dump is writing. */
struct dump {
    struct live_table_block *base;
    size_t base_count;
    uint32_t stack_limit;
    uint32_t base_thread;
};

/* The dump's header: the recording's fields, then what this dump holds. */
static int encode_dump_header(struct byte_buffer *out, const struct dump *dump, int reason,
                              int signal_number)
{
    const struct event_ring *ring = &recorder.ring;
    int failed =
        byte_buffer_append(out, recorder.header_payload.data, recorder.header_payload.size) ||
        byte_buffer_append_tlv_varint(out, HEADER_RING_WINDOW_START_NS, ring->start_time_ns) ||
        byte_buffer_append_tlv_varint(out, HEADER_RING_BASE_ALLOCATIONS, dump->base_count) ||
        byte_buffer_append_tlv_varint(out, HEADER_RING_DUMP_REASON, (uint64_t)reason) ||
        byte_buffer_append_tlv_varint(out, HEADER_RING_EVICTED_EVENTS, ring->evicted_events) ||
        byte_buffer_append_tlv_varint(out, HEADER_RING_DUMP_AT_RSS, recorder.ring_dump_at_rss) ||
        byte_buffer_append_tlv_varint(out, HEADER_RING_DUMP_NUMBER,
                                      (uint64_t)recorder.ring_dump_count + 1);
    if (!failed && reason == RING_DUMP_SIGNAL) {
        failed = byte_buffer_append_tlv_varint(out, HEADER_RING_DUMP_SIGNAL,
                                               (uint64_t)signal_number);
    }
    return failed ? -1 : 0;
}

/* Creates the next dump file (path, path.1, ...: a taken name is skipped,
 * but for path itself with overwrite) into recorder.file. Returns 0, or -1 with error set. */
static int open_dump_file(const struct byte_buffer *header, char *error, size_t error_size)
{
    const char *base = recorder.aggregate_path;
    for (unsigned tries = 0; tries < RING_DUMP_SUFFIX_LIMIT; tries++) {
        char path[PATH_MAX];
        unsigned suffix = recorder.ring_next_suffix;
        int length = suffix ? snprintf(path, sizeof path, "%s.%u", base, suffix)
                            : snprintf(path, sizeof path, "%s", base);
        if (length < 0 || (size_t)length >= sizeof path) {
            snprintf(error, error_size, "the dump's name would be too long: %s.%u", base, suffix);
            return -1;
        }
        recorder.ring_next_suffix = suffix + 1;
        errno = 0;
        /* overwrite lets the first dump replace the output (memlyze record
         * created it); a later name that is taken is always skipped */
        int overwrite = recorder.ring_overwrite && suffix == 0;
        if (capture_writer_open(&recorder.file, path, overwrite, header, error,
                                error_size) == 0) {
            return 0;
        }
        if (errno != EEXIST) {
            return -1;
        }
    }
    return -1;
}

/* Writes the chunk when it is big enough (always when final). */
static int write_chunk_if_full(int final)
{
    if (!recorder.chunk.size || (!final && recorder.chunk.size < RING_DUMP_CHUNK_SIZE)) {
        return 0;
    }
    int result = capture_writer_write_events(&recorder.file, recorder.chunk.data,
                                             recorder.chunk.size);
    byte_buffer_clear(&recorder.chunk);
    event_encoder_begin_chunk(&recorder.encoder);
    return result;
}

static int put_event(const struct dump *dump, const struct recorded_event *event,
                     uint32_t thread_id)
{
    if (event_encoder_put(&recorder.encoder, &recorder.chunk, event, thread_id,
                          dump->stack_limit) < 0) {
        return -1;
    }
    return write_chunk_if_full(0);
}

/* Definitions (all of them: the records that first defined them are gone)
 * and the threads. */
static int encode_definitions(struct dump *dump)
{
    struct intern_cursor cursor = {0};
    struct native_cursor native_cursor = {0};
    if (intern_tables_encode_new(&recorder.chunk, &cursor) < 0 ||
        native_tables_encode_new(&recorder.chunk, &native_cursor, cursor.strings_written) < 0) {
        return -1;
    }
    dump->stack_limit = cursor.stacks_written;
    recorder.encoder.native_stack_limit = native_cursor.stacks_written;
    for (size_t index = 0; index < threads.count; index++) {
        const struct ring_thread *thread = &threads.items[index];
        uint32_t name = thread->name_sid <= cursor.strings_written ? thread->name_sid : 0;
        if (event_encoder_put_thread(&recorder.encoder, &recorder.chunk, thread->thread_id,
                                     thread->native_tid, name) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The heap at the window's start, as allocations made then. */
static int encode_base(const struct dump *dump)
{
    const struct event_ring *ring = &recorder.ring;
    if (event_encoder_put_time(&recorder.encoder, &recorder.chunk, ring->start_time_ns) < 0) {
        return -1;
    }
    for (size_t index = 0; index < dump->base_count; index++) {
        const struct live_table_block *block = &dump->base[index];
        struct recorded_event event = {
            .kind = EVENT_ALLOCATION,
            .allocator = (uint8_t)block->allocator,
            .address = block->address,
            .size = block->size,
            .value = block->stack_id,
        };
        if (put_event(dump, &event, dump->base_thread) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The window's events, each block followed by its time mark (and RSS). */
static int encode_window_events(const struct dump *dump)
{
    const struct event_ring *ring = &recorder.ring;
    for (size_t index = 0; index < ring->block_count; index++) {
        const struct ring_block *block = event_ring_block(ring, index);
        for (uint32_t position = 0; position < block->count; position++) {
            struct recorded_event event;
            to_recorded_event(&block->events[position], &event);
            if (put_event(dump, &event, block->events[position].thread_id) < 0) {
                return -1;
            }
        }
        if (event_encoder_put_time(&recorder.encoder, &recorder.chunk, block->time_ns) < 0 ||
            (block->rss_bytes &&
             event_encoder_put_rss(&recorder.encoder, &recorder.chunk, block->rss_bytes, 0,
                                   0) < 0)) {
            return -1;
        }
    }
    return 0;
}

/* The records and the footer of an opened dump. Returns 0 or -1. */
static int write_dump_body(struct dump *dump)
{
    event_encoder_reset(&recorder.encoder);
    byte_buffer_clear(&recorder.chunk);
    if (encode_definitions(dump) < 0 || encode_base(dump) < 0 ||
        encode_window_events(dump) < 0 || write_chunk_if_full(1) < 0) {
        return -1;
    }
    struct byte_buffer footer = {0};
    int result = recorder_encode_footer(&footer, recorder_monotonic_ns());
    if (result == 0) {
        result = capture_writer_finish(&recorder.file, &footer);
    }
    byte_buffer_release(&footer);
    return result;
}

/* Tells the user, in one line on stderr, that a dump failed. */
static void announce_dump_failure(const char *reason)
{
    char message[PATH_MAX + 256];
    int length = snprintf(message, sizeof message, "memlyze: cannot write the ring dump: %s\n",
                          reason);
    if (length > 0) {
        size_t size = (size_t)length < sizeof message ? (size_t)length : sizeof message - 1;
        ssize_t ignored = write(STDERR_FILENO, message, size);
        (void)ignored;
    }
    recorder.write_failure_announced = 1;
}

int recorder_ring_dump(int reason, int signal_number)
{
    struct dump dump = {0};
    char error[PATH_MAX + 128] = "";
    struct byte_buffer header = {0};
    dump.base_thread = threads.count ? threads.items[0].thread_id : 1;
    recorder.write_failure_announced = 0;
    int result = live_table_copy_blocks(&dump.base, &dump.base_count);
    if (result == 0) {
        result = encode_dump_header(&header, &dump, reason, signal_number);
    }
    if (result < 0) {
        snprintf(error, sizeof error, "out of memory");
    } else if ((result = open_dump_file(&header, error, sizeof error)) == 0) {
        result = write_dump_body(&dump);
        if (result < 0) {
            int saved = recorder.file.error_number ? recorder.file.error_number : ENOMEM;
            snprintf(error, sizeof error, "%s: %s", recorder.file.path, strerror(saved));
            capture_writer_abandon(&recorder.file);
            recorder.file.error_number = saved;
        }
    }
    if (result < 0) {
        if (!recorder.file.error_number) {
            recorder.file.error_number = errno ? errno : EIO;
        }
        announce_dump_failure(error);
    } else {
        recorder.ring_dump_count++;
    }
    byte_buffer_release(&header);
    byte_buffer_clear(&recorder.chunk);
    if (dump.base) {
        live_table_free_blocks(dump.base, dump.base_count);
    }
    return result;
}
