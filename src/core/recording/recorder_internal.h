/*
 * INTERNAL to the recorder: the state and functions that recorder.c (life
 * cycle and API), recorder_writer.c (the writer thread's rounds) and
 * recorder_fork.c (fork and exec) share. Include it from those three files
 * only; everyone else uses recorder.h.
 */
#ifndef MEMLYZE_RECORDER_INTERNAL_H
#define MEMLYZE_RECORDER_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/base/byte_buffer.h"
#include "core/format/capture_writer.h"
#include "core/recording/event_buffer.h"
#include "core/recording/event_encoder.h"
#include "core/recording/event_ring.h"
#include "core/recording/intern_table.h"
#include "core/recording/native_intern.h"
#include "core/recording/recorder.h"
#include "core/recording/rss.h"

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
struct recorder_state {
    pthread_mutex_t control_mutex;
    int running;          /* control: a writer thread exists in owner_pid */
    int owner_pid;        /* control */
    uint64_t generation;  /* control */
    pthread_t writer_thread;

    pthread_mutex_t wake_mutex;
    /* Posted to wake the writer (stop, flush, seal): sem_post is
     * async-signal-safe, so a dying thread's signal handler can post it. */
    sem_t wake_semaphore;
    int stop_requested; /* guarded by wake_mutex */
    pthread_cond_t flush_condition; /* signalled when a round completes flushes */
    uint64_t flush_requested;       /* guarded by wake_mutex */
    uint64_t flush_completed;       /* guarded by wake_mutex */

    /* The seal (recorder_seal.c): read without locks, from signal handlers
     * and vfork children too, so each is an atomic. */
    int sealable_pid; /* atomic: owner_pid while its writer runs, else 0 */
    int seal_wanted;  /* atomic: callers that want the capture complete now */
    int sealed;       /* atomic: set by the writer once the capture is complete */

    int streaming;                  /* events go to a capture file */
    uint64_t aggregate_interval_ns; /* nonzero: --aggregate snapshots */
    uint64_t last_aggregate_ns;
    /* before the next snapshot: AGGREGATE_FIRST_WAIT_NS after start, then
     * doubling up to the interval, so that a run killed early (before its
     * first interval of 60 s by default) still leaves most of what it
     * recorded, at a few extra small rewrites */
    uint64_t aggregate_wait_ns;
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
    /* A write failed and the user was told (writer thread; read by stop
     * after the join): nothing more is written. */
    int write_failure_announced;
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

    /* --ring (recorder_ring.c); writer thread only unless marked. The dump
     * path and header use aggregate_path and header_payload. */
    int ring_mode;           /* atomic: a ring recording runs */
    int ring_overwrite;      /* dumps may replace existing files */
    struct event_ring ring;
    uint64_t ring_dump_at_rss;
    int ring_rss_armed;      /* the threshold may fire (again) */
    uint64_t ring_rss_crossed; /* RSS when it fired, for the dump's header */
    int ring_rss_dump_due;
    unsigned ring_dump_count;  /* dumps written so far */
    unsigned ring_next_suffix; /* path.<suffix> of the next dump (0: path) */
    int ring_dump_requests;  /* atomic: SIGUSR2 and the like, not yet served */
    int ring_death_signal;   /* atomic: set just before a seal for a death */
};

/* The first --aggregate snapshot after the one at start is due this long
 * after start (or at the interval, when that is shorter). */
#define AGGREGATE_FIRST_WAIT_NS (100u * 1000u * 1000u)

/* The one recorder of the process (defined in recorder.c). */
extern struct recorder_state recorder;

/* CLOCK_MONOTONIC in nanoseconds: the clock of every recorder file. */
static inline uint64_t recorder_monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* --- recorder.c: the life cycle -------------------------------------------- */

/* Appends the capture header's fields for options to out; 0, or -1 when out
 * of memory. */
int recorder_encode_header(const struct recorder_options *options, struct byte_buffer *out);
/* Sets up where the recording goes: a capture file of events, --aggregate
 * snapshots, or nothing but the live table (path NULL). Returns 0, or -1
 * with a reason in error. */
int recorder_open_output(const struct recorder_options *options, const struct byte_buffer *header,
                         char *error, size_t error_size);
/* Keeps path and the header's fields for files written later (--aggregate
 * snapshots, --ring dumps) in aggregate_path and header_payload. Returns 0,
 * or -1 when out of memory. */
int recorder_keep_output(const char *path, const struct byte_buffer *header);

/* Appends the footer's figures (end time end_ns) to out; 0, or -1 when out
 * of memory. */
int recorder_encode_footer(struct byte_buffer *out, uint64_t end_ns);

/* --- recorder_writer.c: the writer thread ------------------------------------ */

/* Readies the writer's state (clock, round interval, encoder, cursors) for a
 * recording with options. */
void recorder_writer_reset(const struct recorder_options *options);
/* Starts the writer thread with every signal blocked; pthread_create's result. */
int recorder_writer_start(void);
/* The writer's last round: every event recorded so far is encoded and its
 * chunk written (an --aggregate capture gets its final snapshot). */
void recorder_writer_final_round(void);
/* Wakes the writer thread (async-signal-safe). */
void recorder_writer_wake(void);
/* Frees what the writer's rounds allocated, once the thread is joined. */
void recorder_writer_release_memory(void);

/* --- recorder_fork.c: fork and exec ------------------------------------------ */

/* Registers the pthread_atfork handlers (once per process). */
void recorder_fork_register_handlers(void);
/* Keeps a copy of options when they ask to follow forks into capture files. */
void recorder_fork_remember_options(const struct recorder_options *options);

/* --- recorder_ring.c: the flight recorder ------------------------------------ */

/* Readies ring mode for options (path, window, caps). Returns 0, or -1 with
 * a reason in error. */
int recorder_ring_open(const struct recorder_options *options, const struct byte_buffer *header,
                       char *error, size_t error_size);
/* Writer thread: takes one event into the window (live table locked). */
void recorder_ring_take(const struct staged_event *staged);
/* Writer thread: notes a thread declaration (a name string id given). */
void recorder_ring_declare_thread(uint32_t thread_id, int32_t native_tid, uint32_t name_sid);
/* Writer thread, each round: marks the time (RSS sampled when due) and
 * checks the RSS threshold. */
void recorder_ring_end_round(uint64_t now, int rss_due);
/* Writer thread: nonzero when a dump is wanted (a request, the threshold). */
int recorder_ring_dump_wanted(void);
/* Writer thread: writes the dumps that are wanted. */
void recorder_ring_serve_dumps(void);
/* Writer thread: writes a dump for the reason given (RING_DUMP_*); signal
 * for RING_DUMP_SIGNAL. Returns 0, or -1 after telling the user. */
int recorder_ring_dump(int reason, int signal_number);
/* After the writer is joined: frees the ring. */
void recorder_ring_release(void);

/* --- recorder_seal.c: complete the capture before a death ---------------- */

/* Readies the seal for a writer about to start in this process (pid). */
void recorder_seal_reset(void);
/* Writer thread, after each wake-up: seals or unseals the capture as the
 * callers want. Returns nonzero while the capture is sealed (no rounds). */
int recorder_writer_follow_seal(void);

#endif
