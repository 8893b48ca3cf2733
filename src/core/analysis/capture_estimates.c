/* The sampling scheme of a capture and the arithmetic of its estimates:
 * see capture_estimates.h. */
#include "core/analysis/capture_estimates.h"

#include <math.h>

#include "core/base/tracker_memory.h"

#define Z_95 1.959963984540054

struct capture_estimates {
    uint32_t mode; /* CAPTURE_SAMPLING_* */
    uint64_t mean;
};

void estimate_interval(const struct estimate *estimate, double *low, double *high)
{
    double spread = Z_95 * sqrt(estimate->bytes_variance > 0 ? estimate->bytes_variance : 0);
    *low = estimate->bytes - spread;
    if (*low < estimate->observed_bytes) {
        *low = estimate->observed_bytes;
    }
    *high = estimate->bytes + spread;
    /* An interval always holds its own estimate, also when rounding (or a
     * spread too large for a double) would put the estimate outside. */
    if (!(*low <= estimate->bytes)) {
        *low = estimate->bytes;
    }
    if (!(*high >= estimate->bytes)) {
        *high = estimate->bytes;
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
