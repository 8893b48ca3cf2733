/* The sampling scheme of a capture and the arithmetic of its estimates:
 * see capture_estimates.h. */
#include "core/analysis/capture_estimates.h"

#include <math.h>

#include "core/analysis/gamma_quantile.h"
#include "core/analysis/poisson_quantile.h"
#include "core/base/tracker_memory.h"

#define Z_95 1.959963984540054

struct capture_estimates {
    uint32_t mode; /* CAPTURE_SAMPLING_* */
    uint64_t mean;
};

/* Above this many blocks' worth missed on average, the normal's upper end
 * is kept: the skewness of the models below, 1 / sqrt(mean) and
 * 2 / sqrt(mean), is small by then. */
#define SKEWED_MEAN 100.0

/*
 * What sampling missed (the truth less what was observed) is a sum of whole
 * unseen blocks. When few are missed on average, as when most blocks are
 * larger than the interval, it is 0 most of the time and one block's size
 * now and then: a normal interval of its standard deviation, smaller than
 * one block, then misses the truth whenever one block was missed (in 20% of
 * the runs and more at 64 KiB for blocks of 256 KiB and up). So the upper
 * end also takes the missed bytes as b N, blocks of one size b, their
 * number N of Poisson law: b N has the estimated mean m and variance V of
 * the missed bytes when b = V / m and E[N] = m^2 / V. The upper end is the
 * highest of the normal's, the observed bytes plus b times N's 97.5%
 * quantile (right when one or two blocks are missed) and the same with the
 * gamma of mean E[N] in place of N (right when many blocks of mixed sizes
 * are, its tail being the smoother; benchmarks/sampling_accuracy.py
 * measures the coverage). The lower end needs no such care: the truth is
 * never below what was observed, and the normal's lower end errs low when
 * the missed bytes are skewed.
 */
static double skewed_upper_end(const struct estimate *estimate, double variance)
{
    double missed = estimate->bytes - estimate->observed_bytes;
    if (!(missed > 0) || !(variance > 0)) {
        return estimate->bytes;
    }
    double blocks = missed * missed / variance;
    if (!(blocks < SKEWED_MEAN)) {
        return estimate->bytes;
    }
    double poisson = poisson_quantile(blocks, 0.975);
    double gamma = gamma_quantile(blocks, 0.975);
    return estimate->observed_bytes + variance / missed * (poisson > gamma ? poisson : gamma);
}

void estimate_interval(const struct estimate *estimate, double *low, double *high)
{
    double variance = estimate->bytes_variance > 0 ? estimate->bytes_variance : 0;
    double spread = Z_95 * sqrt(variance);
    *low = estimate->bytes - spread;
    if (*low < estimate->observed_bytes) {
        *low = estimate->observed_bytes;
    }
    *high = estimate->bytes + spread;
    double skewed = skewed_upper_end(estimate, variance);
    if (skewed > *high) {
        *high = skewed;
    }
    /* An interval always holds its own estimate, also when rounding (or a
     * spread too large for a double) would put the estimate outside. */
    if (!(*low <= estimate->bytes)) {
        *low = estimate->bytes;
    }
    if (!(*high >= estimate->bytes)) {
        *high = estimate->bytes;
    }
}

void estimate_interval_of_whole(const struct estimate *estimate, uint64_t sample_interval,
                                double *low, double *high)
{
    estimate_interval(estimate, low, high);
    /* ln 40: e^(-X / T) = 2.5% */
    double unseen = (double)sample_interval * 3.6888794541139363;
    if (estimate->bytes + unseen > *high) {
        *high = estimate->bytes + unseen;
    }
}

uint64_t estimate_figure(double value)
{
    /* 2^64 as a double; a conversion at or above it is undefined. */
    const double limit = 18446744073709551616.0;
    if (!(value > 0)) {
        return 0;
    }
    double rounded = floor(value + 0.5);
    return rounded >= limit ? UINT64_MAX : (uint64_t)rounded;
}

struct capture_estimates *capture_estimates_new(const struct capture_header *header)
{
    struct capture_estimates *estimates = tracker_calloc(1, sizeof *estimates);
    if (!estimates) {
        return NULL;
    }
    if (header->sample_interval) {
        estimates->mode = CAPTURE_SAMPLING_BY_BYTES;
        estimates->mean = header->sample_interval;
    } else if (header->sample_rate < 1.0) {
        estimates->mode = CAPTURE_SAMPLING_BY_ALLOCATIONS;
        estimates->mean = (uint64_t)llround(1.0 / header->sample_rate);
    }
    return estimates;
}

void capture_estimates_free(struct capture_estimates *estimates)
{
    if (estimates) {
        tracker_free(estimates, sizeof *estimates);
    }
}

void capture_estimates_take_sampling(struct capture_estimates *estimates,
                                     const struct capture_record *record)
{
    estimates->mode = record->sample_mode;
    estimates->mean = record->sample_mean;
}

double capture_estimates_weight(const struct capture_estimates *estimates, uint64_t size)
{
    double probability =
        capture_sampling_keep_probability(estimates->mode, estimates->mean, size);
    return probability > 0 ? 1.0 / probability : 1.0;
}
