/*
 * The recording engine: what the allocator hooks call. It knows nothing of
 * Python: callers pass interned ids, addresses and sizes.
 *
 * Threads append fixed-size events to their own buffers, each event stamped
 * with a global sequence number; a writer thread collects all buffers every
 * round, restores the global order, encodes records (capture_format.h),
 * compresses them in chunks and writes the file. One recording at a time.
 */
#ifndef MEMLYZE_RECORDER_H
#define MEMLYZE_RECORDER_H

#include <stddef.h>
#include <stdint.h>

struct recorder_options {
    const char *path;           /* capture file to create */
    int overwrite;              /* 0: fail if path exists */
    uint64_t pid;
    uint64_t parent_pid;        /* the recorded process that started this one, 0: none */
    const char *python_version; /* "3.11.7" */
    const char *command;        /* the profiled command line */
    uint64_t flags;             /* HEADER_FLAG_* */
    uint32_t max_stack_depth;
    double sample_rate;         /* 1.0 = every allocation */
    uint64_t sample_interval;   /* bytes, 0 = off */
    uint64_t rss_interval_ns;   /* 0 = no RSS samples */
    uint64_t sample_seed;       /* seed of the sampling generators */
    /* The live table (live_table.h) is kept when live_table is nonzero or
     * path is NULL (no capture file: only the live table). With
     * aggregate_interval_ns, path gets a snapshot of the live table this
     * often and at stop instead of the events (see aggregate_writer.h). */
    int live_table;
    int live_threads;           /* the live table keeps per-thread figures too
                                   (the live view; implies live_table) */
    uint64_t aggregate_interval_ns;
    int follow_fork;            /* 1: a forked child records into path.<pid> */
    const char *fork_path;      /* with follow_fork: children record into
                                   fork_path.<pid> instead (NULL: path) */
    /* With aggregate_interval_ns: also a pprof profile per interval into
     * this directory (rolling_pprof.h), keeping the newest pprof_keep
     * (0: all). NULL: none. */
    const char *pprof_dir;
    uint64_t pprof_keep;
    /* --ring (recorder_ring.c): with ring_events or ring_window_ns, nothing
     * is written while recording; the last window of events (at least
     * ring_events of them, or at least ring_window_ns of time) is kept in
     * at most ring_max_bytes and dumped as a capture into path (then
     * path.1, path.2, ...: a taken name is skipped; overwrite lets the first
     * dump replace path only) at stop, on recorder_request_ring_dump (SIGUSR2),
     * at a death that seals, and once RSS reaches ring_dump_at_rss. */
    uint64_t ring_events;
    uint64_t ring_window_ns;
    uint64_t ring_max_bytes;
    uint64_t ring_dump_at_rss; /* 0: no threshold */
};

/*
 * Creates the capture file, writes its header and starts the writer thread.
 * Returns 0, or -1 with a one-line reason in error (the file is not left
 * behind when it was created here).
 */
int recorder_start(const struct recorder_options *options, char *error, size_t error_size);

/*
 * Stops recording: flushes every buffer, writes the footer and trailer, closes
 * the file and joins the writer thread. Returns 0, or -1 with a reason (for
 * example a full disk) in error. Safe to call when not recording.
 */
int recorder_stop(char *error, size_t error_size);

/*
 * Whether the failure recorder_stop() reported was already told to the user
 * on stderr, when it happened (a full disk, a capture descriptor the program
 * closed): callers then need not print it again. Meaningful after a failed
 * recorder_stop() only.
 */
int recorder_stop_failure_announced(void);

/*
 * Makes the writer run a round now and waits for it: afterwards the live
 * table holds every event recorded (by any thread) before the call. Returns
 * 0, or -1 when not recording. Call without holding locks hooks may need.
 */
int recorder_flush(void);

/* Nonzero while recording. A relaxed load: cheap enough for every hook. */
extern int recorder_active_flag;
static inline int recorder_is_active(void)
{
    return __atomic_load_n(&recorder_active_flag, __ATOMIC_RELAXED);
}

/*
 * Set while a thread runs tracker code, and always in the tracker's own
 * threads: hooks that find it set pass the call through unrecorded.
 */
#include "core/base/thread_local.h"
extern THREAD_LOCAL int recorder_thread_busy;

/* Interning; each returns an id >= 1 (0 only when out of memory). */
uint32_t recorder_intern_string(const char *text, size_t size);
uint32_t recorder_intern_frame(uint32_t function_sid, uint32_t file_sid, uint32_t line,
                               uint32_t flags);
/* Gives a defined frame its module (a string id), unless it has one. */
void recorder_set_frame_module(uint32_t frame_id, uint32_t module_sid);
uint32_t recorder_intern_stack(uint32_t parent_stack_id, uint32_t frame_id);
/* Changes each time a recording starts: ids from another generation are void. */
uint64_t recorder_generation(void);

/* Events, from any thread. */
void recorder_record_allocation(int allocator, uintptr_t address, uint64_t size,
                                uint32_t stack_id);
/* An allocation with its native call chain (native_intern.h id, 0: none). */
void recorder_record_native_allocation(int allocator, uintptr_t address, uint64_t size,
                                       uint32_t stack_id, uint32_t native_stack_id);
/* An allocation whose Python stack was cut at the depth limit; total_frames
 * counts the frames it had (see struct recorded_event). */
void recorder_record_truncated_allocation(int allocator, uintptr_t address, uint64_t size,
                                          uint32_t stack_id, uint16_t total_frames);
/* An object whose block is live was made again without an allocation (taken
 * from a free list): the live table gives the block this stack, as
 * tracemalloc does. total_frames: 0, or as above. */
void recorder_record_new_reference(uintptr_t address, uint32_t stack_id, uint16_t total_frames);
void recorder_record_free(uintptr_t address);
void recorder_record_pymalloc_free(uintptr_t address);
void recorder_record_munmap(uintptr_t address, uint64_t size);
void recorder_record_gc(uint32_t generation, uint64_t collected, uint64_t uncollectable,
                        uint64_t duration_ns);
void recorder_record_snapshot(void);
/* Records that sampling follows scheme mode (enum sampler_mode) with the
 * given mean from now on. */
void recorder_record_sampling(int mode, uint64_t mean);
/* Names the calling thread in the capture (name is copied). */
void recorder_set_thread_name(const char *name);

/* Notes that some thread's kernel name may have changed (pthread_setname_np):
 * the writer re-reads the names in its next round. Cheap; any thread. */
void recorder_note_thread_renamed(void);

/* Called in a forked child: recording stops there without touching the
 * parent's file. With follow_fork, the child then records into its own
 * capture, <path>.<child pid>, starting with every definition it inherited. */
void recorder_after_fork_in_child(void);

/*
 * Completes the capture now, as recorder_stop would, without stopping: every
 * event recorded before the call and the footer are written, and the writer
 * takes no more events until every seal is let go (recorder_unseal).
 * Async-signal-safe (no allocation, no lock; waits at most 2 s for the
 * writer, with nanosleep). Does nothing in another process than the one
 * recording, such as a vfork child sharing its memory, or on the writer
 * thread. Returns 1 when the capture is complete, 0 when the writer did not
 * complete it in time (the seal is still held), -1 when nothing was done.
 */
int recorder_seal(void);
/* Lets go of one seal that recorder_seal returned 0 or 1 for; the last one
 * makes the writer take the footer away and record on. */
void recorder_unseal(void);

/* --ring: asks the writer to dump the window now (it does, in its next
 * round; this does not wait). Async-signal-safe. Returns 0, or -1 when no
 * ring recording runs in this process. */
int recorder_request_ring_dump(void);
/* Nonzero while a --ring recording runs in this process. Async-signal-safe. */
int recorder_ring_active(void);
/* Notes the signal a death is about to happen by, for the ring dump the
 * seal then writes (its reason). Async-signal-safe. */
void recorder_note_death_signal(int signal_number);

/* Called right before the process ends without atexit handlers (_exit): the
 * capture (the recording process's, or a follow-fork child's) is sealed. */
void recorder_before_exit(void);

/* Called right before exec: a follow-fork child's capture is removed (the
 * process becomes another program; nothing it recorded is of interest); the
 * recording process's capture is sealed (recorder_seal_before_exec). */
void recorder_before_exec(void);

/* Seals the capture for an exec of this thread; when the exec fails and
 * returns, recorder_after_failed_exec lets the seal go and recording goes
 * on (the program carries on as it would without memlyze). */
void recorder_seal_before_exec(void);
void recorder_after_failed_exec(void);

#endif
