/*
 * The seal: a capture sealed reads complete with every event recorded before
 * (while another thread records), and a seal let go records on into the same
 * file. Deaths that seal are in test_signal_deaths.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/format/capture_format.h"
#include "core/recording/recorder.h"
#include "tests/c/recording/capture_counting.h"
#include "tests/c/test_harness.h"

static char capture_path[256];
static int keep_recording;
static uint64_t recorded_by_thread;

static int start_recording(void)
{
    struct recorder_options options = {
        .path = capture_path, .overwrite = 1, .pid = (uint64_t)getpid(),
        .python_version = "3.11.7", .command = "test_recorder_seal", .max_stack_depth = 128,
        .sample_rate = 1.0,
    };
    char error[256];
    int result = recorder_start(&options, error, sizeof error);
    if (result < 0) {
        fprintf(stderr, "recorder_start: %s\n", error);
    }
    return result;
}

static void record_allocations(int count)
{
    for (int index = 0; index < count; index++) {
        recorder_record_allocation(ALLOCATOR_MALLOC, 0x10000 + 16u * (unsigned)index, 32, 0);
    }
}

static void *recording_thread(void *unused)
{
    (void)unused;
    while (__atomic_load_n(&keep_recording, __ATOMIC_RELAXED)) {
        recorder_record_allocation(ALLOCATOR_MALLOC, 0x900000, 8, 0);
        recorder_record_free(0x900000);
        __atomic_fetch_add(&recorded_by_thread, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_sealed_capture_is_complete_and_unsealing_records_on(void)
{
    CHECK(start_recording() == 0);
    record_allocations(1000);
    __atomic_store_n(&keep_recording, 1, __ATOMIC_RELAXED);
    pthread_t thread;
    pthread_create(&thread, NULL, recording_thread, NULL);
    CHECK(recorder_seal() == 1);
    int complete = 0;
    int64_t sealed_count = count_capture_allocations(capture_path, &complete);
    CHECK(complete);
    CHECK(sealed_count >= 1000);
    recorder_unseal();
    record_allocations(500);
    __atomic_store_n(&keep_recording, 0, __ATOMIC_RELAXED);
    pthread_join(thread, NULL);
    char error[256];
    CHECK(recorder_stop(error, sizeof error) == 0);
    CHECK_EQ_U64(count_capture_allocations(capture_path, &complete),
                 1500 + __atomic_load_n(&recorded_by_thread, __ATOMIC_RELAXED));
    CHECK(complete);
}

static void test_seal_without_recording_does_nothing(void)
{
    CHECK(recorder_seal() == -1);
    recorder_unseal(); /* harmless */
}

int main(void)
{
    snprintf(capture_path, sizeof capture_path, "/tmp/memlyze-test-seal-%d.mlyze",
             (int)getpid());
    RUN_TEST(test_seal_without_recording_does_nothing);
    RUN_TEST(test_sealed_capture_is_complete_and_unsealing_records_on);
    unlink(capture_path);
    return test_harness_exit_code();
}
