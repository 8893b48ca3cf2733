/*
 * The recorder's --ring mode end to end in C: nothing is written while it
 * records; a dump (on request, at stop) is a complete capture holding the
 * heap live at the window's start as its first allocations, then the
 * window's events, so that replaying it gives the exact live heap at the
 * dump; dumps never overwrite one another.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "core/recording/recorder.h"
#include "tests/c/test_harness.h"

#define OLD_BASE 0x100000u
#define OLD_COUNT 20000u
#define NEW_BASE 0x4000000u
#define NEW_COUNT 3000u
#define WINDOW_EVENTS 5000u

static char capture_path[256];

static int start_ring(int overwrite)
{
    struct recorder_options options = {
        .path = capture_path, .overwrite = overwrite, .pid = (uint64_t)getpid(),
        .python_version = "3.11.7", .command = "test_recorder_ring", .max_stack_depth = 128,
        .sample_rate = 1.0, .flags = HEADER_FLAG_RING, .ring_events = WINDOW_EVENTS,
        .ring_max_bytes = 64u << 20,
    };
    char error[256];
    int result = recorder_start(&options, error, sizeof error);
    if (result < 0) {
        fprintf(stderr, "recorder_start: %s\n", error);
    }
    return result;
}

/* 20000 old blocks of 32 bytes (every other one freed again), then 3000
 * new blocks of 64 bytes, each at its own stack. */
static void record_workload(uint32_t old_stack, uint32_t new_stack)
{
    for (unsigned index = 0; index < OLD_COUNT; index++) {
        recorder_record_allocation(ALLOCATOR_MALLOC, OLD_BASE + 16u * index, 32, old_stack);
    }
    for (unsigned index = 0; index < OLD_COUNT; index += 2) {
        recorder_record_free(OLD_BASE + 16u * index);
    }
    for (unsigned index = 0; index < NEW_COUNT; index++) {
        recorder_record_allocation(ALLOCATOR_MALLOC, NEW_BASE + 16u * index, 64, new_stack);
    }
}

/* What replaying a dump gives. */
struct replay {
    uint64_t allocations;
    uint64_t live_old_bytes;
    uint64_t live_new_bytes;
    uint64_t new_stack_allocations;
    int complete;
    struct capture_header header;
};

static int replay_dump(const char *path, uint32_t new_stack, struct replay *out)
{
    memset(out, 0, sizeof *out);
    struct capture_error error;
    struct capture_reader *reader = capture_reader_open(path, &error);
    if (!reader) {
        fprintf(stderr, "cannot read %s: %s\n", path, error.message);
        return -1;
    }
    out->header = *capture_reader_header(reader);
    static unsigned char old_live[OLD_COUNT];
    static unsigned char new_live[NEW_COUNT + 1]; /* and one block made later */
    memset(old_live, 0, sizeof old_live);
    memset(new_live, 0, sizeof new_live);
    struct capture_record record;
    int status;
    while ((status = capture_reader_next(reader, &record)) == 1) {
        if (record.kind != CAPTURE_RECORD_ALLOCATION && record.kind != CAPTURE_RECORD_FREE) {
            continue;
        }
        int is_new = record.address >= NEW_BASE;
        uint64_t slot = (record.address - (is_new ? NEW_BASE : OLD_BASE)) / 16;
        unsigned char *live = is_new ? &new_live[slot] : &old_live[slot];
        if (record.kind == CAPTURE_RECORD_ALLOCATION) {
            out->allocations++;
            out->new_stack_allocations += record.stack_id == new_stack;
            *live = 1;
        } else if (record.kind == CAPTURE_RECORD_FREE) {
            *live = 0;
        }
    }
    for (unsigned index = 0; index < OLD_COUNT; index++) {
        out->live_old_bytes += old_live[index] * 32u;
    }
    for (unsigned index = 0; index < NEW_COUNT; index++) {
        out->live_new_bytes += new_live[index] * 64u;
    }
    out->complete = status == 0 && !capture_reader_truncated(reader);
    capture_reader_close(reader);
    return status == 0 ? 0 : -1;
}

static int file_exists(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0;
}

static void wait_for_file(const char *path)
{
    struct timespec pause = {0, 10 * 1000 * 1000};
    for (int tries = 0; tries < 1000 && !file_exists(path); tries++) {
        nanosleep(&pause, NULL);
    }
}

static void check_dump(const char *path, uint32_t new_stack)
{
    struct replay replay;
    CHECK(replay_dump(path, new_stack, &replay) == 0);
    CHECK(replay.complete);
    CHECK(replay.header.flags & HEADER_FLAG_RING);
    /* the live heap at the dump, exactly: base plus the window's changes */
    CHECK_EQ_U64(replay.live_old_bytes, (OLD_COUNT / 2) * 32u);
    CHECK_EQ_U64(replay.live_new_bytes, NEW_COUNT * 64u);
    /* every new block was made in the window; the base holds the old ones
     * still live at its start, which the window's frees then release */
    CHECK_EQ_U64(replay.new_stack_allocations, NEW_COUNT);
    CHECK(replay.header.ring_base_allocations <= OLD_COUNT);
    CHECK(replay.header.ring_base_allocations > 0);
    /* the window: at least WINDOW_EVENTS events, less than a block more,
     * so the old allocations are mostly left out */
    uint64_t window_events = OLD_COUNT + OLD_COUNT / 2 + NEW_COUNT -
                             replay.header.ring_evicted_events;
    CHECK(window_events >= WINDOW_EVENTS);
    CHECK(window_events < WINDOW_EVENTS + 4096);
    CHECK(replay.allocations < OLD_COUNT + NEW_COUNT);
}

static void test_dump_at_stop_replays_to_the_live_heap(void)
{
    CHECK(start_ring(1) == 0);
    uint32_t file = recorder_intern_string("work.py", 7);
    uint32_t old_frame = recorder_intern_frame(recorder_intern_string("old", 3), file, 10, 0);
    uint32_t new_frame = recorder_intern_frame(recorder_intern_string("new", 3), file, 20, 0);
    uint32_t old_stack = recorder_intern_stack(0, old_frame);
    uint32_t new_stack = recorder_intern_stack(0, new_frame);
    record_workload(old_stack, new_stack);
    recorder_flush();
    /* nothing on disk while recording (the path was replaced by start) */
    CHECK(!file_exists(capture_path));
    char error[256];
    CHECK(recorder_stop(error, sizeof error) == 0);
    check_dump(capture_path, new_stack);
    struct replay replay;
    replay_dump(capture_path, new_stack, &replay);
    CHECK_EQ_U64(replay.header.ring_dump_reason, RING_DUMP_EXIT);
    CHECK_EQ_U64(replay.header.ring_dump_number, 1);
}

static void test_requested_dump_then_stop_make_two_files_and_skip_taken_names(void)
{
    char first_suffix[300];
    char second_suffix[300];
    char third_suffix[300];
    snprintf(first_suffix, sizeof first_suffix, "%s.1", capture_path);
    snprintf(second_suffix, sizeof second_suffix, "%s.2", capture_path);
    snprintf(third_suffix, sizeof third_suffix, "%s.3", capture_path);
    unlink(capture_path);
    unlink(second_suffix);
    unlink(third_suffix);
    /* a file of someone else's at path.1 is left alone */
    int taken = open(first_suffix, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(taken >= 0);
    CHECK(write(taken, "x", 1) == 1);
    close(taken);

    CHECK(start_ring(0) == 0);
    CHECK(recorder_ring_active());
    uint32_t file = recorder_intern_string("work.py", 7);
    uint32_t old_stack = recorder_intern_stack(
        0, recorder_intern_frame(recorder_intern_string("old", 3), file, 10, 0));
    uint32_t new_stack = recorder_intern_stack(
        0, recorder_intern_frame(recorder_intern_string("new", 3), file, 20, 0));
    record_workload(old_stack, new_stack);
    recorder_flush();
    CHECK(recorder_request_ring_dump() == 0);
    wait_for_file(capture_path);
    usleep(200 * 1000);
    /* more after the first dump: in the second only */
    recorder_record_allocation(ALLOCATOR_MALLOC, NEW_BASE + 16u * NEW_COUNT, 128, new_stack);
    char error[256];
    CHECK(recorder_stop(error, sizeof error) == 0);
    CHECK(!recorder_ring_active());

    struct replay first;
    struct replay second;
    CHECK(replay_dump(capture_path, new_stack, &first) == 0);
    CHECK(first.complete);
    CHECK_EQ_U64(first.header.ring_dump_reason, RING_DUMP_REQUEST);
    CHECK_EQ_U64(first.new_stack_allocations, NEW_COUNT);
    CHECK(replay_dump(second_suffix, new_stack, &second) == 0);
    CHECK(second.complete);
    CHECK_EQ_U64(second.header.ring_dump_reason, RING_DUMP_EXIT);
    CHECK_EQ_U64(second.header.ring_dump_number, 2);
    CHECK_EQ_U64(second.new_stack_allocations, NEW_COUNT + 1);
    CHECK(!file_exists(third_suffix));
    struct stat info;
    CHECK(stat(first_suffix, &info) == 0 && info.st_size == 1);
    unlink(first_suffix);
    unlink(second_suffix);
}

static void test_an_existing_capture_is_refused_without_overwrite(void)
{
    int descriptor = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(descriptor >= 0);
    close(descriptor);
    CHECK(start_ring(0) < 0);
    CHECK(!recorder_ring_active());
    CHECK(recorder_request_ring_dump() < 0);
}

int main(void)
{
    snprintf(capture_path, sizeof capture_path, "/tmp/memlyze-test-ring-%d.mlyze", (int)getpid());
    RUN_TEST(test_dump_at_stop_replays_to_the_live_heap);
    RUN_TEST(test_requested_dump_then_stop_make_two_files_and_skip_taken_names);
    RUN_TEST(test_an_existing_capture_is_refused_without_overwrite);
    unlink(capture_path);
    return test_harness_exit_code();
}
