/*
 * Estimates of the whole program from a sampled capture, with their
 * uncertainty. Each kept allocation of s bytes stands for 1/p allocations
 * and s/p bytes, where p is the chance it had to be kept: 1 - exp(-s/T)
 * under byte sampling of mean interval T, 1/N under allocation sampling of
 * mean gap N, 1 when every allocation was recorded. These Horvitz-Thompson
 * estimates are unbiased; each has the variance sum of s^2 (1 - p) / p^2
 * over the kept blocks it adds up, from which come 95% intervals
 * (estimate +- 1.96 standard deviations, never below what was observed,
 * the upper end raised where the missed bytes are skewed: see
 * estimate_interval).
 *
 * The analysis's heap (capture_analysis_heap.c) gives each block its weight
 * 1/p when it is recorded; this file knows the sampling scheme in force (the
 * header's, until an OP_SAMPLING record changes it) and the arithmetic.
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

/* The sampling scheme of a capture as its records go by. */
struct capture_estimates;

/* Starts with the scheme a capture's header names. Returns NULL when memory
 * ran out. */
struct capture_estimates *capture_estimates_new(const struct capture_header *header);
void capture_estimates_free(struct capture_estimates *estimates);

/* Takes an OP_SAMPLING record: the scheme of the allocations after it. */
void capture_estimates_take_sampling(struct capture_estimates *estimates,
                                     const struct capture_record *record);

/* The weight 1/p of an allocation of size bytes recorded now. */
double capture_estimates_weight(const struct capture_estimates *estimates, uint64_t size);

/* The 95% interval of an estimate: [max(observed, e - 1.96 sd), high], high
 * the highest of e + 1.96 sd and the 97.5% quantiles of two skewed models
 * of the missed bytes (capture_estimates.c), widened to hold e itself
 * whatever rounding did. */
void estimate_interval(const struct estimate *estimate, double *low, double *high);

/* The 95% interval of a figure of the whole capture (its total, peak or
 * leaks) under byte sampling of mean interval sample_interval (0: none):
 * estimate_interval's, with an upper end at least the estimate plus
 * sample_interval * ln 40. Blocks of which none was kept add nothing to the
 * variance, and when all the small blocks of a program go unseen (no
 * kept one stands for them) the interval would be the observed bytes
 * alone; but unseen bytes X go without a sample with chance e^(-X / T), at
 * most 2.5% for X above T ln 40. A location's interval has no such floor:
 * it would widen every location by that much. */
void estimate_interval_of_whole(const struct estimate *estimate, uint64_t sample_interval,
                                double *low, double *high);

/* An estimate as a whole number of bytes or blocks: rounded, 0 below 0
 * (and for NaN), UINT64_MAX from 2^64 up. Monotonic, so an interval that
 * holds its estimate still does once all three are figures. */
uint64_t estimate_figure(double value);

#endif
