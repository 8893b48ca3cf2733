/*
 * Deaths that seal: a child that records, takes over the terminating signals
 * and then dies by SIGTERM (default disposition), by a fault, or through
 * _exit leaves a complete capture holding every allocation, and ends as it
 * would have: by that very signal, or with its exit status. Forks, so not
 * under ThreadSanitizer (whose state a forked child inherits half-held).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/format/capture_format.h"
#include "core/recording/fatal_signals.h"
#include "core/recording/recorder.h"
#include "tests/c/recording/capture_counting.h"
#include "tests/c/test_harness.h"

static char capture_path[256];
/* The address the fault test writes to: never mapped (read at run time, so
 * the compiler cannot see the write is to page zero). */
static volatile uintptr_t unmapped_address = 8;

static int start_recording(void)
{
    struct recorder_options options = {
        .path = capture_path, .overwrite = 1, .pid = (uint64_t)getpid(),
        .python_version = "3.11.7", .command = "test_signal_deaths", .max_stack_depth = 128,
        .sample_rate = 1.0,
    };
    char error[256];
    return recorder_start(&options, error, sizeof error);
}

static void record_allocations(int count)
{
    for (int index = 0; index < count; index++) {
        recorder_record_allocation(ALLOCATOR_MALLOC, 0x10000 + 16u * (unsigned)index, 32, 0);
    }
}

enum death { DEATH_BY_SIGTERM, DEATH_BY_FAULT, DEATH_BY_EXIT };

/* In a child: records 700 allocations, then dies as death says. */
static void child_records_and_dies(enum death death)
{
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(SIGSEGV, SIG_DFL); /* a sanitizer's own handler would report instead */
    if (start_recording() < 0) {
        _exit(100);
    }
    fatal_signals_take_over();
    record_allocations(700);
    if (death == DEATH_BY_SIGTERM) {
        raise(SIGTERM);
    } else if (death == DEATH_BY_FAULT) {
        *(volatile int *)unmapped_address = 1;
    } else {
        recorder_before_exit();
        _exit(3);
    }
    _exit(101); /* not reached when the death worked */
}

static void check_child_death(enum death death, int expected_signal)
{
    pid_t child = fork();
    if (child == 0) {
        child_records_and_dies(death);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (expected_signal) {
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == expected_signal);
    } else {
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    }
    int complete = 0;
    CHECK_EQ_U64(count_capture_allocations(capture_path, &complete), 700);
    CHECK(complete);
}

static void test_death_by_sigterm_keeps_everything(void)
{
    check_child_death(DEATH_BY_SIGTERM, SIGTERM);
}

static void test_death_by_fault_keeps_everything(void)
{
    check_child_death(DEATH_BY_FAULT, SIGSEGV);
}

static void test_exit_keeps_everything(void)
{
    check_child_death(DEATH_BY_EXIT, 0);
}

int main(void)
{
    snprintf(capture_path, sizeof capture_path, "/tmp/memlyze-test-deaths-%d.mlyze",
             (int)getpid());
    RUN_TEST(test_death_by_sigterm_keeps_everything);
    RUN_TEST(test_death_by_fault_keeps_everything);
    RUN_TEST(test_exit_keeps_everything);
    unlink(capture_path);
    return test_harness_exit_code();
}
