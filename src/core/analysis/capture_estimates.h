/*
 * Estimates of the whole program from a sampled capture, with their
 * uncertainty. Each kept allocation of s bytes stands for 1/p allocations
 * and s/p bytes, where p is the chance it had to be kept: 1 - exp(-s/T)
 * under byte sampling of mean interval T, 1/N under allocation sampling of
 * mean gap N, 1 when every allocation was recorded. These Horvitz-Thompson
 * estimates are unbiased; each has the variance sum of s^2 (1 - p) / p^2
 * over the kept blocks it adds up, from which come 95% intervals
 * (estimate +- 1.96 standard deviations, never below what was observed).
 *
 * The estimator follows a capture's records in order (fed by the analysis
 * pass) and keeps, per stack, the estimated live, at-peak and total bytes
 * and counts, where the peak is the moment of the largest estimated heap.
 */
#ifndef MEMLYZE_CAPTURE_ESTIMATES_H
#define MEMLYZE_CAPTURE_ESTIMATES_H

#include <stddef.h>
#include <stdint.h>

#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"

/* An estimated amount: bytes and count, the variance of the bytes, and
 * the bytes actually seen (a lower bound of the truth). */
struct estimate {
    double bytes;
    double count;
    double bytes_variance;
    double observed_bytes;
};

struct estimate_summary {
    struct estimate allocated;         /* every allocation */
    struct estimate at_peak;           /* live at the estimated peak */
    struct estimate leaked;            /* live at the end */
    struct estimate allocators[ALLOCATOR_COUNT];
    double histogram[65];              /* estimated count per size bucket */
    uint64_t peak_event_index;
    int peak_time_pending;             /* the peak's time comes with the next OP_TIME */
    uint64_t peak_time_ns;
};

struct capture_estimates;

/* Starts estimating for a capture whose header is given (its sampling
 * scheme applies until an OP_SAMPLING record changes it). Returns NULL when
 * memory ran out. */
struct capture_estimates *capture_estimates_new(const struct capture_header *header);
void capture_estimates_free(struct capture_estimates *estimates);

/* Takes the next record of the capture. Returns 0, or -1 when memory ran
 * out. */
int capture_estimates_take(struct capture_estimates *estimates, const struct capture_record *record,
                           uint64_t event_index);

/* Takes the estimates an --aggregate snapshot of a sampled recording
 * carries (aggregate->estimated, see aggregate_chunk.h) in place of
 * records: per stack live, at-peak and total, and the summary's allocated
 * and at-peak; its live heap is what capture_estimates_finish calls leaked.
 * The peak's time is peak_time_ns. Returns 0, or -1 when memory ran out. */
int capture_estimates_take_aggregate(struct capture_estimates *estimates,
                                     const struct capture_aggregate *aggregate,
                                     uint64_t peak_time_ns);

/* Call once every record was taken: fixes what is leaked. */
void capture_estimates_finish(struct capture_estimates *estimates);

const struct estimate_summary *capture_estimates_summary(const struct capture_estimates *estimates);

/* A stack's estimated figures at the peak, in total and at the end (zero
 * for a stack that never allocated). */
void capture_estimates_stack(const struct capture_estimates *estimates, uint32_t stack_id,
                             struct estimate *at_peak, struct estimate *total,
                             struct estimate *leaked);

/* The chance that an allocation of size bytes was kept under a scheme. */
double capture_estimates_keep_probability(uint32_t mode, uint64_t mean, uint64_t size);

/* The 95% interval of an estimate: [max(observed, e - 1.96 sd), e + 1.96 sd]. */
void estimate_interval(const struct estimate *estimate, double *low, double *high);

#endif
