/*
 * The recorder across fork and exec: the pthread_atfork handlers, and with
 * follow_fork a child's own recording into <path>.<child pid>, sealed at
 * _exit and removed at exec (recorder_seal.c seals the recording process's
 * own capture). See recorder.h.
 */
#include "core/recording/recorder_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/recording/live_table.h"
#include "core/recording/rolling_pprof.h"
#include "core/recording/sampler.h"
#include "core/base/tracker_memory.h"

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

/* See recorder_internal.h. */
void recorder_fork_register_handlers(void)
{
    pthread_once(&fork_handler_once, register_fork_handler);
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
void recorder_fork_remember_options(const struct recorder_options *options)
{
    const char *base = options->fork_path ? options->fork_path : options->path;
    remembered.follow_fork = options->follow_fork && options->path &&
                             !options->aggregate_interval_ns &&
                             strlen(base) < sizeof remembered.path;
    remembered.forked_child = 0;
    if (!remembered.follow_fork) {
        return;
    }
    remembered.options = *options;
    remembered.options.live_threads = 0; /* a child serves no live view */
    snprintf(remembered.path, sizeof remembered.path, "%s", base);
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
    options.parent_pid = remembered.options.pid; /* the process that forked */
    options.pid = (uint64_t)getpid();
    options.overwrite = 1;
    struct byte_buffer header = {0};
    char error[256];
    int failed = recorder_encode_header(&options, &header) < 0 ||
                 recorder_open_output(&options, &header, error, sizeof error) < 0;
    byte_buffer_release(&header);
    if (failed) {
        return;
    }
    recorder_writer_reset(&options);
    rss_reader_close(&recorder.rss);
    rss_reader_open(&recorder.rss);
    tracker_memory_reset_peak();
    event_buffers_begin();
    recorder_seal_reset();
    if (recorder_writer_start() != 0) {
        event_buffers_end();
        capture_writer_abandon(&recorder.file);
        unlink(path);
        return;
    }
    recorder.running = 1;
    recorder.owner_pid = (int)getpid();
    __atomic_store_n(&recorder.sealable_pid, recorder.owner_pid, __ATOMIC_RELEASE);
    remembered.forked_child = 1;
    remembered.options.pid = options.pid; /* the parent of this child's own forks */
    __atomic_store_n(&recorder_active_flag, 1, __ATOMIC_SEQ_CST);
}

void recorder_before_exec(void)
{
    if (remembered.forked_child && recorder.running && recorder.owner_pid == (int)getpid()) {
        char error[256];
        recorder_stop(error, sizeof error);
        unlink(remembered.child_path);
        remembered.forked_child = 0;
        return;
    }
    recorder_seal_before_exec();
}

void recorder_before_exit(void)
{
    recorder_seal();
}

void recorder_after_fork_in_child(void)
{
    /* The writer thread did not come along; its file belongs to the parent.
     * Forget both without touching the file, and make the locks usable. */
    __atomic_store_n(&recorder_active_flag, 0, __ATOMIC_SEQ_CST);
    int was_running = recorder.running;
    pthread_mutex_init(&recorder.control_mutex, NULL);
    pthread_mutex_init(&recorder.wake_mutex, NULL);
    recorder_seal_reset();
    if (recorder.running) {
        /* only if the number still names the capture: else it is the program's */
        capture_writer_close_descriptor(&recorder.file);
    }
    recorder.file.fd = -1;
    recorder.running = 0;
    event_buffers_after_fork_in_child();
    intern_tables_after_fork_in_child();
    native_tables_after_fork_in_child();
    sampler_after_fork_in_child();
    pthread_cond_init(&recorder.flush_condition, NULL);
    live_table_after_fork_in_child();
    rolling_pprof_stop(); /* the parent's series */
    int follow = was_running && remembered.follow_fork;
    remembered.forked_child = 0;
    if (follow) {
        int busy = recorder_thread_busy;
        recorder_thread_busy = 1;
        restart_in_forked_child();
        recorder_thread_busy = busy;
    }
}
