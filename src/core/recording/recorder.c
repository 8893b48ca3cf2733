/*
 * The recorder: starts and stops a recording (header, output, footer) and
 * takes the program's events. The writer thread is in recorder_writer.c,
 * fork and exec handling in recorder_fork.c; they share recorder_internal.h.
 * See recorder.h and event_buffer.h.
 */
#include "core/recording/recorder_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/recording/aggregate_writer.h"
#include "core/format/capture_format.h"
#include "core/recording/live_table.h"
#include "core/recording/rolling_pprof.h"
#include "core/recording/sampler.h"
#include "core/base/tracker_memory.h"

int recorder_active_flag;
THREAD_LOCAL int recorder_thread_busy;

/* The state the recorder's files share: see recorder_internal.h. */
struct recorder_state recorder = {
    .control_mutex = PTHREAD_MUTEX_INITIALIZER,
    .wake_mutex = PTHREAD_MUTEX_INITIALIZER,
    .flush_condition = PTHREAD_COND_INITIALIZER,
};

static uint64_t realtime_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* --- start and stop ------------------------------------------------------ */

int recorder_encode_header(const struct recorder_options *options, struct byte_buffer *out)
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
                 byte_buffer_append_tlv_varint(out, HEADER_SAMPLE_SEED, options->sample_seed) ||
                 /* the bound capture_writer_write_chunk keeps */
                 byte_buffer_append_tlv_varint(out, HEADER_MAX_CHUNK_SIZE, CAPTURE_MAX_CHUNK_SIZE);
    if (!failed && options->parent_pid) {
        failed = byte_buffer_append_tlv_varint(out, HEADER_PARENT_PID, options->parent_pid);
    }
    return failed ? -1 : 0;
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

/* Starts the --pprof-dir series of an --aggregate recording. */
static int start_rolling_pprof(const struct recorder_options *options, char *error,
                               size_t error_size)
{
    struct rolling_pprof_options rolling = {
        .directory = options->pprof_dir,
        .pid = options->pid,
        .command = options->command,
        .interval_ns = options->aggregate_interval_ns,
        .keep = options->pprof_keep,
        .sample_mode = live_table_sample_mode(options),
        .sample_mean = live_table_sample_mean(options),
    };
    if (rolling_pprof_start(&rolling, error, error_size) < 0) {
        unlink(options->path);
        return -1;
    }
    return 0;
}

int recorder_keep_output(const char *path, const struct byte_buffer *header)
{
    size_t path_size = strlen(path) + 1;
    byte_buffer_release(&recorder.header_payload);
    if (recorder.aggregate_path) {
        tracker_free(recorder.aggregate_path, strlen(recorder.aggregate_path) + 1);
    }
    recorder.aggregate_path = tracker_malloc(path_size);
    if (!recorder.aggregate_path ||
        byte_buffer_append(&recorder.header_payload, header->data, header->size) < 0) {
        return -1;
    }
    memcpy(recorder.aggregate_path, path, path_size);
    return 0;
}

/* Sets up where the recording goes: a capture file of events, --aggregate
 * snapshots, a --ring window dumped later, or nothing but the live table
 * (path NULL). Returns 0, or -1 with a reason in error. */
int recorder_open_output(const struct recorder_options *options, const struct byte_buffer *header,
                         char *error, size_t error_size)
{
    memset(&recorder.file, 0, sizeof recorder.file);
    recorder.write_failure_announced = 0;
    recorder.file.fd = -1;
    int ring = options->ring_events || options->ring_window_ns;
    __atomic_store_n(&recorder.ring_mode, 0, __ATOMIC_RELEASE);
    recorder.streaming = options->path && !options->aggregate_interval_ns && !ring;
    recorder.aggregate_interval_ns = options->path && !ring ? options->aggregate_interval_ns : 0;
    if (options->live_table || options->live_threads || !recorder.streaming) {
        live_table_enable();
        live_table_keep_threads(options->live_threads);
        live_table_set_sampling(live_table_sample_mode(options), live_table_sample_mean(options));
    } else {
        live_table_disable();
    }
    if (ring) {
        return recorder_ring_open(options, header, error, error_size);
    }
    if (recorder.streaming) {
        return capture_writer_open(&recorder.file, options->path, options->overwrite, header,
                                   error, error_size);
    }
    if (!recorder.aggregate_interval_ns) {
        return 0;
    }
    if (recorder_keep_output(options->path, header) < 0) {
        snprintf(error, error_size, "out of memory starting the recording");
        return -1;
    }
    recorder.last_aggregate_ns = recorder_monotonic_ns();
    recorder.aggregate_wait_ns = recorder.aggregate_interval_ns < AGGREGATE_FIRST_WAIT_NS
                                     ? recorder.aggregate_interval_ns
                                     : AGGREGATE_FIRST_WAIT_NS;
    recorder.aggregate_peak_bytes = 0;
    recorder.aggregate_peak_time_ns = 0;
    struct aggregate_snapshot_context context = {.path = options->path,
                                                 .header_payload = header};
    if (aggregate_writer_create(&context, options->overwrite, error, error_size) < 0) {
        return -1;
    }
    return options->pprof_dir ? start_rolling_pprof(options, error, error_size) : 0;
}

static int recorder_start_unlocked(const struct recorder_options *options, char *error,
                                   size_t error_size)
{
    if (recorder.running) {
        snprintf(error, error_size, "a memlyze recording is already running in this process");
        return -1;
    }
    if ((options->ring_events || options->ring_window_ns) &&
        (options->follow_fork || options->aggregate_interval_ns)) {
        snprintf(error, error_size, "--ring cannot be combined with %s",
                 options->follow_fork ? "following forks" : "--aggregate");
        return -1;
    }
    struct byte_buffer header = {0};
    if (intern_tables_reset() < 0 || native_tables_reset() < 0 ||
        recorder_encode_header(options, &header) < 0) {
        byte_buffer_release(&header);
        snprintf(error, error_size, "out of memory starting the recording");
        return -1;
    }
    int opened = recorder_open_output(options, &header, error, error_size);
    byte_buffer_release(&header);
    if (opened < 0) {
        return -1;
    }
    recorder_writer_reset(options);
    rss_reader_open(&recorder.rss);
    tracker_memory_reset_peak();
    event_buffers_begin();
    recorder.generation++;
    recorder_seal_reset();
    if (recorder_writer_start() != 0) {
        event_buffers_end();
        capture_writer_abandon(&recorder.file);
        if (options->path) {
            unlink(options->path);
        }
        rss_reader_close(&recorder.rss);
        rolling_pprof_stop();
        snprintf(error, error_size, "cannot start the writer thread");
        return -1;
    }
    recorder.running = 1;
    recorder.owner_pid = (int)getpid();
    __atomic_store_n(&recorder.sealable_pid, recorder.owner_pid, __ATOMIC_RELEASE);
    recorder_fork_remember_options(options);
    __atomic_store_n(&recorder_active_flag, 1, __ATOMIC_SEQ_CST);
    return 0;
}

int recorder_start(const struct recorder_options *options, char *error, size_t error_size)
{
    recorder_fork_register_handlers();
    pthread_mutex_lock(&recorder.control_mutex);
    int result = recorder_start_unlocked(options, error, error_size);
    pthread_mutex_unlock(&recorder.control_mutex);
    return result;
}

int recorder_encode_footer(struct byte_buffer *out, uint64_t end_ns)
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

static int recorder_stop_unlocked(char *error, size_t error_size)
{
    if (!recorder.running || recorder.owner_pid != (int)getpid()) {
        return 0;
    }
    __atomic_store_n(&recorder_active_flag, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&recorder.sealable_pid, 0, __ATOMIC_RELEASE);
    pthread_mutex_lock(&recorder.wake_mutex);
    recorder.stop_requested = 1;
    pthread_mutex_unlock(&recorder.wake_mutex);
    recorder_writer_wake();
    pthread_join(recorder.writer_thread, NULL);
    event_buffers_end();
    recorder.running = 0;

    /* A capture sealed before (and never unsealed) is complete already. */
    struct byte_buffer footer = {0};
    if (recorder_encode_footer(&footer, recorder_monotonic_ns()) < 0 &&
        !recorder.file.error_number) {
        recorder.file.error_number = ENOMEM;
    }
    int result = recorder.streaming ? capture_writer_finish(&recorder.file, &footer)
                                    : (recorder.file.error_number ? -1 : 0);
    byte_buffer_release(&footer);
    live_table_disable();
    rolling_pprof_stop();
    if (result < 0) {
        snprintf(error, error_size, "capture file is incomplete: %s",
                 recorder.file.descriptor_lost
                     ? "the program closed its descriptor and it could not be reopened"
                     : strerror(recorder.file.error_number));
    }
    recorder_writer_release_memory();
    return result;
}

int recorder_stop_failure_announced(void)
{
    return recorder.write_failure_announced;
}

int recorder_stop(char *error, size_t error_size)
{
    pthread_mutex_lock(&recorder.control_mutex);
    int result = recorder_stop_unlocked(error, error_size);
    pthread_mutex_unlock(&recorder.control_mutex);
    return result;
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

void recorder_set_frame_module(uint32_t frame_id, uint32_t module_sid)
{
    intern_frame_set_module(frame_id, module_sid);
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

void recorder_record_truncated_allocation(int allocator, uintptr_t address, uint64_t size,
                                          uint32_t stack_id, uint16_t total_frames)
{
    event_buffer_append_truncated(EVENT_ALLOCATION, (uint8_t)allocator, address, size, stack_id,
                                  total_frames);
}

void recorder_record_new_reference(uintptr_t address, uint32_t stack_id, uint16_t total_frames)
{
    event_buffer_append_truncated(EVENT_NEW_REFERENCE, 0, address, 0, stack_id, total_frames);
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

void recorder_record_sampling(int mode, uint64_t mean)
{
    event_buffer_append(EVENT_SAMPLING, (uint8_t)mode, 0, mean, 0);
}

void recorder_set_thread_name(const char *name)
{
    uint32_t name_sid = intern_string(name, strlen(name));
    event_buffer_append(EVENT_THREAD_NAME, 0, (uint64_t)gettid(), 0, name_sid);
}
