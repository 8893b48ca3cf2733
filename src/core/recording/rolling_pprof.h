/*
 * The rolling pprof profiles of --aggregate --pprof-dir DIR: every
 * aggregate interval, and once more when the recording stops, the writer
 * thread writes DIR/memlyze-<pid>-<sequence>.pb.gz (sequence from 000001),
 * a gzipped pprof heap profile (format/pprof_encoder.h) made from the live
 * table, for continuous profilers (Pyroscope, Parca) and `go tool pprof`.
 *
 * Each profile is self-contained and covers one interval: alloc_objects and
 * alloc_space count the allocations made during it, inuse_objects and
 * inuse_space what was live at its end; time_nanos is its start (wall
 * clock), duration_nanos its length. Every sample carries the string labels
 * pid and command. A sampled recording gives estimates of the whole program
 * (the live table's weights) and says its scheme as period_type/period:
 * space/bytes and the mean interval for byte sampling, objects/count and N
 * for one allocation in N.
 *
 * Each file is written under a temporary name beside it and renamed into
 * place (a collector never reads a partial file). With keep, only the
 * newest keep files of the series stay: the one keep places back is removed
 * after each write. A write that fails is told once on stderr and ends the
 * series (the --aggregate capture goes on).
 *
 * Thread-safety: start and stop under the recorder's control mutex, with no
 * writer thread running; rolling_pprof_write_if_due on the writer thread.
 */
#ifndef MEMLYZE_ROLLING_PPROF_H
#define MEMLYZE_ROLLING_PPROF_H

#include <stddef.h>
#include <stdint.h>

struct rolling_pprof_options {
    const char *directory; /* an existing directory; absolute, since the program may chdir */
    uint64_t pid;
    const char *command;   /* the process's command line, for the label */
    uint64_t interval_ns;  /* between profiles */
    uint64_t keep;         /* the newest files kept, 0: all */
    uint32_t sample_mode;  /* SAMPLER_* */
    uint64_t sample_mean;  /* bytes, or N of one allocation in N */
};

/* Starts a series: the first profile covers from now. Returns 0, or -1 with
 * a one-line reason in error (directory missing, not a directory, no
 * memory). */
int rolling_pprof_start(const struct rolling_pprof_options *options, char *error,
                        size_t error_size);

/* Writes the next profile when an interval has passed since the previous
 * one (always when final, the recording's end). Does nothing without a
 * series. now_ns is CLOCK_MONOTONIC. */
void rolling_pprof_write_if_due(uint64_t now_ns, int final);

/* Ends the series and frees its memory; the files stay. Also in a forked
 * child, whose parent's series this is not. */
void rolling_pprof_stop(void);

#endif
