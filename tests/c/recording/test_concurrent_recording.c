/*
 * The recorder's GIL-free paths under load, as a free-threaded CPython drives
 * them: many threads at once intern the same and their own strings, frames
 * and stacks, record allocations and frees (some through the sampler's set of
 * kept blocks), and end while the writer runs, so that their buffers are
 * handed over. Every id must be the same for the same value in every thread,
 * and every event must come back under its own thread. Run under
 * ThreadSanitizer too (build-tsan in scripts/test.sh).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "core/recording/recorder.h"
#include "core/recording/sampler.h"
#include "tests/c/test_harness.h"

#define WAVES 3
#define THREADS_PER_WAVE 8
#define THREADS (WAVES * THREADS_PER_WAVE)
#define BLOCKS_PER_THREAD 4000
#define STACK_DEPTH 6

static char capture_path[256];

/* What each thread got back from interning, compared after the join. */
struct thread_result {
    uint32_t shared_stack;  /* the stack every thread builds alike */
    uint32_t own_stack;     /* shared frames, then a frame of its own */
    uint64_t recorded_blocks;
    uint64_t recorded_bytes;
};

static struct thread_result results[THREADS];

static uint32_t intern_text(const char *text)
{
    return recorder_intern_string(text, strlen(text));
}

/* The same six frames in every thread: concurrent interning of one value
 * must give one id. */
static uint32_t shared_stack(void)
{
    uint32_t stack = 0;
    for (uint32_t level = 0; level < STACK_DEPTH; level++) {
        char function[32];
        snprintf(function, sizeof function, "shared_level_%u", level);
        uint32_t frame = recorder_intern_frame(intern_text(function), intern_text("shared.py"),
                                               10 + level, 0);
        stack = recorder_intern_stack(stack, frame);
    }
    return stack;
}

static uint64_t block_size(long index, int block)
{
    return 16 + (uint64_t)index * 8 + (uint64_t)(block % 7);
}

static void *recording_thread(void *argument)
{
    long index = (long)argument;
    struct thread_result *result = &results[index];
    result->shared_stack = shared_stack();
    char function[32];
    snprintf(function, sizeof function, "worker_%ld", index);
    uint32_t frame = recorder_intern_frame(intern_text(function), intern_text("worker.py"),
                                           (uint32_t)(100 + index), 0);
    result->own_stack = recorder_intern_stack(result->shared_stack, frame);
    uintptr_t base = 0x10000000 + (uintptr_t)index * 0x1000000;
    for (int block = 0; block < BLOCKS_PER_THREAD; block++) {
        uintptr_t address = base + (uintptr_t)block * 64;
        uint64_t size = block_size(index, block);
        /* Every other thread goes through the sampler's kept-block set, as
         * sampled or filtered recordings do. */
        int through_sampler = index % 2;
        recorder_record_allocation(ALLOCATOR_MALLOC, address, size, result->own_stack);
        if (through_sampler) {
            sampler_remember(address);
        }
        result->recorded_blocks++;
        result->recorded_bytes += size;
        if (block % 2 == 0 && (!through_sampler || sampler_forget(address))) {
            recorder_record_free(address);
            result->recorded_bytes -= size;
            result->recorded_blocks--;
        }
    }
    return NULL;
}

/* Asks for flushes while the threads record: the writer's rounds race with
 * the appenders and with threads handing their buffers over at exit. */
static void *flushing_thread(void *argument)
{
    int *stop = argument;
    while (!__atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
        recorder_flush();
        usleep(200);
    }
    return NULL;
}

static int start_recording(void)
{
    struct recorder_options options = {
        .path = capture_path, .overwrite = 1, .pid = (uint64_t)getpid(),
        .python_version = "3.13.5", .command = "test_concurrent_recording",
        .max_stack_depth = 128, .sample_rate = 1.0, .live_table = 1,
        .flags = HEADER_FLAG_FREE_THREADED | HEADER_FLAG_PYTHON_ALLOCATORS,
    };
    char error[256];
    if (recorder_start(&options, error, sizeof error) < 0) {
        fprintf(stderr, "recorder_start: %s\n", error);
        return -1;
    }
    return 0;
}

static void run_waves(void)
{
    int stop = 0;
    pthread_t flusher;
    CHECK(pthread_create(&flusher, NULL, flushing_thread, &stop) == 0);
    for (long wave = 0; wave < WAVES; wave++) {
        pthread_t threads[THREADS_PER_WAVE];
        for (long slot = 0; slot < THREADS_PER_WAVE; slot++) {
            long index = wave * THREADS_PER_WAVE + slot;
            CHECK(pthread_create(&threads[slot], NULL, recording_thread, (void *)index) == 0);
        }
        for (long slot = 0; slot < THREADS_PER_WAVE; slot++) {
            pthread_join(threads[slot], NULL);
        }
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(flusher, NULL);
}

/* The function name of a record's innermost frame. */
static const char *innermost_function(struct capture_reader *reader, uint32_t stack_id)
{
    const struct capture_stack *stack = capture_reader_stack(reader, stack_id);
    const struct capture_frame *frame = stack ? capture_reader_frame(reader, stack->frame_id)
                                              : NULL;
    return frame ? capture_reader_string(reader, frame->function_sid, NULL) : NULL;
}

/* Live blocks and bytes per worker, from the capture: an allocation adds,
 * a free of a block of that worker's range takes away. */
static void read_back(struct capture_reader *reader, uint64_t *blocks, uint64_t *bytes,
                      uint64_t *misattributed)
{
    struct capture_record record;
    while (capture_reader_next(reader, &record) == 1) {
        if (record.address < 0x10000000) {
            continue;
        }
        long index = (long)((record.address - 0x10000000) / 0x1000000);
        if (index >= THREADS) {
            continue;
        }
        uint64_t block = (record.address - 0x10000000 - (uint64_t)index * 0x1000000) / 64;
        if (record.kind == CAPTURE_RECORD_ALLOCATION) {
            char expected[32];
            snprintf(expected, sizeof expected, "worker_%ld", index);
            const char *function = innermost_function(reader, record.stack_id);
            *misattributed += !function || strcmp(function, expected) != 0;
            blocks[index]++;
            bytes[index] += record.size;
        } else if (record.kind == CAPTURE_RECORD_FREE) {
            blocks[index]--;
            bytes[index] -= block_size(index, (int)block);
        }
    }
}

static void test_threads_intern_alike_and_keep_their_events(void)
{
    sampler_configure(SAMPLER_EVERY_ALLOCATION, 1.0, 1, 1);
    CHECK(start_recording() == 0);
    run_waves();
    char error[256] = "";
    CHECK(recorder_stop(error, sizeof error) == 0);

    for (int index = 1; index < THREADS; index++) {
        CHECK_EQ_U64(results[index].shared_stack, results[0].shared_stack);
        CHECK(results[index].own_stack != results[0].own_stack);
    }
    struct capture_error open_error;
    struct capture_reader *reader = capture_reader_open(capture_path, &open_error);
    CHECK(reader != NULL);
    if (!reader) {
        fprintf(stderr, "%s\n", open_error.message);
        return;
    }
    uint64_t blocks[THREADS] = {0}, bytes[THREADS] = {0}, misattributed = 0;
    read_back(reader, blocks, bytes, &misattributed);
    CHECK(capture_reader_error(reader)->message[0] == '\0');
    CHECK_EQ_U64(misattributed, 0);
    for (int index = 0; index < THREADS; index++) {
        CHECK_EQ_U64(blocks[index], results[index].recorded_blocks);
        CHECK_EQ_U64(bytes[index], results[index].recorded_bytes);
    }
    const struct capture_footer *footer = capture_reader_footer(reader);
    CHECK(footer->present);
    CHECK_EQ_U64(footer->dropped_events, 0);
    CHECK(capture_reader_thread_count(reader) >= THREADS);
    CHECK(capture_reader_header(reader)->flags & HEADER_FLAG_FREE_THREADED);
    capture_reader_close(reader);
}

int main(void)
{
    snprintf(capture_path, sizeof capture_path, "/tmp/memlyze-test-concurrent-%d.mlyze",
             (int)getpid());
    RUN_TEST(test_threads_intern_alike_and_keep_their_events);
    unlink(capture_path);
    return test_harness_exit_code();
}
