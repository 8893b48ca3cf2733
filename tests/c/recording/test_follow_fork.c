/*
 * --follow-fork in the recorder: a forked child records into <path>.<pid>,
 * which starts with every string, frame and stack the parent had interned
 * (and its native stacks), while a thread of the parent keeps interning
 * through the fork; the parent's capture holds only the parent's events.
 * The child's header names its parent (HEADER_PARENT_PID); with fork_path
 * the child's capture is <fork_path>.<pid>.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "core/recording/native_intern.h"
#include "core/recording/recorder.h"
#include "tests/c/test_harness.h"

static char capture_path[256];
static int keep_interning;

static int start_following(void)
{
    struct recorder_options options = {
        .path = capture_path, .overwrite = 1, .pid = (uint64_t)getpid(),
        .python_version = "3.11.7", .command = "test_follow_fork", .max_stack_depth = 128,
        .sample_rate = 1.0, .follow_fork = 1,
    };
    char error[256];
    int result = recorder_start(&options, error, sizeof error);
    if (result < 0) {
        fprintf(stderr, "recorder_start: %s\n", error);
    }
    return result;
}

/* Interns new strings and stacks while the main thread forks. */
static void *interning_thread(void *unused)
{
    (void)unused;
    for (unsigned number = 0; __atomic_load_n(&keep_interning, __ATOMIC_RELAXED); number++) {
        char name[32];
        snprintf(name, sizeof name, "busy_%u", number % 5000);
        uint32_t frame = recorder_intern_frame(recorder_intern_string(name, strlen(name)), 0,
                                               number % 5000, 0);
        recorder_intern_stack(0, frame);
    }
    return NULL;
}

struct capture_contents {
    uint64_t pid;
    uint64_t parent_pid;
    uint64_t allocations;
    uint64_t bytes;
    uint32_t last_stack;
    uint32_t last_native_stack;
    uint32_t stack_count;
};

/* Reads a whole capture; returns 0 or -1. */
static int read_capture(const char *path, struct capture_contents *contents)
{
    struct capture_error error;
    struct capture_reader *reader = capture_reader_open(path, &error);
    if (!reader) {
        fprintf(stderr, "%s\n", error.message);
        return -1;
    }
    memset(contents, 0, sizeof *contents);
    contents->pid = capture_reader_header(reader)->pid;
    contents->parent_pid = capture_reader_header(reader)->parent_pid;
    struct capture_record record;
    int status;
    while ((status = capture_reader_next(reader, &record)) == 1) {
        if (record.kind == CAPTURE_RECORD_ALLOCATION) {
            contents->allocations++;
            contents->bytes += record.size;
            contents->last_stack = record.stack_id;
            contents->last_native_stack = record.native_stack_id;
        }
    }
    contents->stack_count = capture_reader_stack_count(reader);
    int truncated = capture_reader_truncated(reader);
    capture_reader_close(reader);
    return status == 0 && !truncated ? 0 : -1;
}

/* The child: one allocation with the inherited stacks, then its own stop. */
static void child_main(uint32_t inherited_stack, uint32_t inherited_native)
{
    recorder_record_native_allocation(ALLOCATOR_MALLOC, 0x7000, 777, inherited_stack,
                                      inherited_native);
    char error[256];
    _exit(recorder_stop(error, sizeof error) == 0 ? 0 : 1);
}

static void test_child_records_its_own_capture_with_inherited_tables(void)
{
    CHECK(start_following() == 0);
    uint32_t frame = recorder_intern_frame(recorder_intern_string("main", 4),
                                           recorder_intern_string("app.py", 6), 12, 1);
    uint32_t stack = recorder_intern_stack(0, frame);
    uint32_t native = intern_native_stack(intern_native_stack(0, 0x401000), 0x402000);
    recorder_record_native_allocation(ALLOCATOR_MALLOC, 0x1000, 100, stack, native);
    keep_interning = 1;
    pthread_t thread;
    pthread_create(&thread, NULL, interning_thread, NULL);
    pid_t child = fork();
    if (child == 0) {
        child_main(stack, native);
    }
    __atomic_store_n(&keep_interning, 0, __ATOMIC_RELAXED);
    pthread_join(thread, NULL);
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    recorder_record_allocation(ALLOCATOR_CALLOC, 0x2000, 200, stack);
    char error[256];
    CHECK(recorder_stop(error, sizeof error) == 0);

    struct capture_contents parent;
    CHECK(read_capture(capture_path, &parent) == 0);
    CHECK_EQ_U64(parent.pid, (uint64_t)getpid());
    CHECK_EQ_U64(parent.parent_pid, 0);
    CHECK_EQ_U64(parent.allocations, 2);
    CHECK_EQ_U64(parent.bytes, 300);

    char child_path[300];
    snprintf(child_path, sizeof child_path, "%s.%d", capture_path, (int)child);
    struct capture_contents forked;
    CHECK(read_capture(child_path, &forked) == 0);
    CHECK_EQ_U64(forked.pid, (uint64_t)child);
    CHECK_EQ_U64(forked.parent_pid, (uint64_t)getpid());
    CHECK_EQ_U64(forked.allocations, 1);
    CHECK_EQ_U64(forked.bytes, 777);
    CHECK_EQ_U64(forked.last_stack, stack);
    CHECK_EQ_U64(forked.last_native_stack, native);
    CHECK(forked.stack_count >= stack);
    unlink(child_path);
}

static void test_without_follow_fork_a_child_writes_nothing(void)
{
    struct recorder_options options = {
        .path = capture_path, .overwrite = 1, .pid = (uint64_t)getpid(),
        .python_version = "3.11.7", .command = "test_follow_fork", .max_stack_depth = 128,
        .sample_rate = 1.0,
    };
    char error[256];
    CHECK(recorder_start(&options, error, sizeof error) == 0);
    pid_t child = fork();
    if (child == 0) {
        recorder_record_allocation(ALLOCATOR_MALLOC, 0x7000, 777, 0);
        _exit(recorder_is_active() ? 1 : 0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(recorder_stop(error, sizeof error) == 0);
    char child_path[300];
    snprintf(child_path, sizeof child_path, "%s.%d", capture_path, (int)child);
    CHECK(access(child_path, F_OK) != 0);
}

/* --follow-subprocesses: a followed process's forks record next to the top
 * capture (fork_path), not below its own. */
static void test_fork_path_names_the_child_capture(void)
{
    char family[300];
    snprintf(family, sizeof family, "%s.family", capture_path);
    struct recorder_options options = {
        .path = capture_path, .overwrite = 1, .pid = (uint64_t)getpid(), .parent_pid = 4242,
        .python_version = "3.11.7", .command = "test_follow_fork", .max_stack_depth = 128,
        .sample_rate = 1.0, .follow_fork = 1, .fork_path = family,
    };
    char error[256];
    CHECK(recorder_start(&options, error, sizeof error) == 0);
    pid_t child = fork();
    if (child == 0) {
        child_main(0, 0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(recorder_stop(error, sizeof error) == 0);
    struct capture_contents parent;
    CHECK(read_capture(capture_path, &parent) == 0);
    CHECK_EQ_U64(parent.parent_pid, 4242);
    char child_path[340];
    snprintf(child_path, sizeof child_path, "%s.%d", family, (int)child);
    struct capture_contents forked;
    CHECK(read_capture(child_path, &forked) == 0);
    CHECK_EQ_U64(forked.parent_pid, (uint64_t)getpid());
    CHECK_EQ_U64(forked.bytes, 777);
    snprintf(child_path, sizeof child_path, "%s.%d", capture_path, (int)child);
    CHECK(access(child_path, F_OK) != 0);
    snprintf(child_path, sizeof child_path, "%s.%d", family, (int)child);
    unlink(child_path);
}

int main(void)
{
    snprintf(capture_path, sizeof capture_path, "/tmp/memlyze-test-follow-fork-%d.mlyze",
             (int)getpid());
    RUN_TEST(test_child_records_its_own_capture_with_inherited_tables);
    RUN_TEST(test_without_follow_fork_a_child_writes_nothing);
    RUN_TEST(test_fork_path_names_the_child_capture);
    unlink(capture_path);
    return test_harness_exit_code();
}
