/*
 * The sampler keeps allocations with the promised probabilities and knows
 * which blocks it kept; the estimator turns kept blocks into unbiased
 * estimates whose 95% intervals hold the truth about 95% of the time.
 */
#include <math.h>
#include <stdio.h>

#include "core/analysis/capture_analysis_internal.h"
#include "core/analysis/capture_estimates.h"
#include "core/recording/sampler.h"
#include "tests/c/test_harness.h"

/* Fraction of count allocations of size bytes the sampler keeps. */
static double kept_fraction(uint64_t size, int count)
{
    int kept = 0;
    for (int index = 0; index < count; index++) {
        kept += sampler_keeps(size);
    }
    return (double)kept / count;
}

static void test_byte_sampling_probability(void)
{
    const double interval = 65536;
    sampler_configure(SAMPLER_BY_BYTES, interval, 42, 1);
    uint64_t sizes[] = {64, 4096, 65536, 1 << 20};
    for (size_t index = 0; index < sizeof sizes / sizeof sizes[0]; index++) {
        double expected = 1.0 - exp(-(double)sizes[index] / interval);
        int count = expected < 0.01 ? 2000000 : 200000;
        double observed = kept_fraction(sizes[index], count);
        double tolerance = 5 * sqrt(expected * (1 - expected) / count) + 1e-6;
        CHECK(fabs(observed - expected) <= tolerance);
    }
}

static void test_allocation_sampling_has_no_stride(void)
{
    sampler_configure(SAMPLER_BY_ALLOCATIONS, 10, 7, 1);
    /* Every tenth allocation is "large": a fixed stride of 10 would keep
     * all of them or none; geometric gaps keep about a tenth of each. */
    int kept_large = 0, kept_small = 0;
    for (int index = 0; index < 1000000; index++) {
        int kept = sampler_keeps(100);
        if (index % 10 == 0) {
            kept_large += kept;
        } else {
            kept_small += kept;
        }
    }
    CHECK(fabs(kept_large / 100000.0 - 0.1) < 0.006);
    CHECK(fabs(kept_small / 900000.0 - 0.1) < 0.003);
}

static void test_same_seed_same_choices(void)
{
    int first[1000], second[1000];
    sampler_configure(SAMPLER_BY_BYTES, 4096, 99, 1);
    for (int index = 0; index < 1000; index++) {
        first[index] = sampler_keeps(1000);
    }
    sampler_configure(SAMPLER_BY_BYTES, 4096, 99, 1);
    int same = 1;
    for (int index = 0; index < 1000; index++) {
        second[index] = sampler_keeps(1000);
        same &= first[index] == second[index];
    }
    CHECK(same);
}

static void test_remembered_blocks(void)
{
    sampler_configure(SAMPLER_BY_BYTES, 4096, 1, 1);
    sampler_remember(0x1000);
    sampler_remember(0x2000);
    CHECK(sampler_forget(0x1000) == 1);
    CHECK(sampler_forget(0x1000) == 0);
    CHECK(sampler_forget(0x3000) == 0);
    CHECK(sampler_forget(0x2000) == 1);
    sampler_remember(0x4000);
    sampler_configure(SAMPLER_BY_BYTES, 4096, 1, 1); /* a new recording forgets */
    CHECK(sampler_forget(0x4000) == 0);
}

/* A full capture's blocks weigh 1: every share is the exact block. */
static void test_full_capture_weights_are_exact(void)
{
    struct capture_header header = {.sample_rate = 1.0};
    struct capture_estimates *estimates = capture_estimates_new(&header);
    CHECK(capture_estimates_weight(estimates, 100) == 1.0);
    struct estimate share = analysis_block_share(300, capture_estimates_weight(estimates, 300));
    CHECK(share.bytes == 300 && share.count == 1 && share.bytes_variance == 0);
    capture_estimates_free(estimates);
}

/* A sampling change takes effect for the allocations after it. */
static void test_sampling_record_changes_weights(void)
{
    struct capture_header header = {.sample_rate = 1.0};
    struct capture_estimates *estimates = capture_estimates_new(&header);
    struct capture_record change = {.kind = CAPTURE_RECORD_SAMPLING,
                                    .sample_mode = CAPTURE_SAMPLING_BY_ALLOCATIONS,
                                    .sample_mean = 10};
    capture_estimates_take_sampling(estimates, &change);
    CHECK(fabs(capture_estimates_weight(estimates, 64) - 10.0) < 1e-9);
    capture_estimates_free(estimates);
}

/* Many simulated runs of byte sampling over a known stream: the estimate of
 * the total, summed from the kept blocks' shares as the analysis sums them,
 * is unbiased and its interval holds the truth ~95% of the time. */
static void test_byte_sampling_intervals_cover(void)
{
    const int runs = 400;
    int covered = 0;
    double error_sum = 0;
    struct capture_header header = {.sample_rate = 1.0, .sample_interval = 32768};
    for (int run = 0; run < runs; run++) {
        sampler_configure(SAMPLER_BY_BYTES, 32768, 1000 + (uint64_t)run, 1);
        struct capture_estimates *estimates = capture_estimates_new(&header);
        struct estimate allocated = {0, 0, 0, 0};
        double truth = 0;
        for (uint64_t index = 0; index < 20000; index++) {
            uint64_t size = 16 + (index * 7919) % 20000;
            truth += (double)size;
            if (sampler_keeps(size)) {
                struct estimate share =
                    analysis_block_share(size, capture_estimates_weight(estimates, size));
                analysis_estimate_add(&allocated, &share, 1);
            }
        }
        double low, high;
        estimate_interval(&allocated, &low, &high);
        covered += low <= truth && truth <= high;
        error_sum += (allocated.bytes - truth) / truth;
        capture_estimates_free(estimates);
    }
    fprintf(stderr, "  coverage %.1f%%, mean relative error %+.3f%%\n", 100.0 * covered / runs,
            100.0 * error_sum / runs);
    CHECK(covered >= 0.91 * runs && covered <= 0.99 * runs);
    CHECK(fabs(error_sum / runs) < 0.01);
}

static void test_keep_probability(void)
{
    CHECK(capture_sampling_keep_probability(CAPTURE_SAMPLING_EVERY_ALLOCATION, 0, 10) == 1.0);
    CHECK(capture_sampling_keep_probability(CAPTURE_SAMPLING_BY_ALLOCATIONS, 10, 10) == 0.1);
    double probability = capture_sampling_keep_probability(CAPTURE_SAMPLING_BY_BYTES, 1000, 1000);
    CHECK(fabs(probability - (1 - exp(-1.0))) < 1e-12);
}

int main(void)
{
    RUN_TEST(test_byte_sampling_probability);
    RUN_TEST(test_allocation_sampling_has_no_stride);
    RUN_TEST(test_same_seed_same_choices);
    RUN_TEST(test_remembered_blocks);
    RUN_TEST(test_full_capture_weights_are_exact);
    RUN_TEST(test_sampling_record_changes_weights);
    RUN_TEST(test_byte_sampling_intervals_cover);
    RUN_TEST(test_keep_probability);
    return test_harness_exit_code();
}
