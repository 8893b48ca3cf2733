/* The quantiles behind sampled intervals' upper ends, against values of
 * the distributions known to many digits (scipy.stats), and the interval
 * that takes a missed block into account. */
#include <math.h>

#include "core/analysis/capture_estimates.h"
#include "core/analysis/gamma_quantile.h"
#include "core/analysis/poisson_quantile.h"
#include "tests/c/test_harness.h"

static int near(double value, double expected)
{
    return fabs(value - expected) <= 1e-6 * (fabs(expected) > 1 ? fabs(expected) : 1);
}

static void test_gamma(void)
{
    CHECK(near(gamma_quantile(1.0, 0.975), -log(0.025))); /* the exponential */
    CHECK(near(gamma_quantile(0.2, 0.975), 1.511102975988578));
    CHECK(near(gamma_quantile(50.0, 0.975), 64.7805985929183));
    CHECK(near(gamma_probability(2.5, 3.0), 0.6937810815867212));
    CHECK(gamma_probability(2.5, 0.0) == 0.0);
}

static void test_poisson(void)
{
    CHECK(poisson_quantile(0.02, 0.975) == 0.0); /* e^-0.02 = 0.980 */
    CHECK(poisson_quantile(0.1, 0.975) == 1.0);
    CHECK(poisson_quantile(10.0, 0.975) == 17.0);
    CHECK(poisson_quantile(99.5, 0.975) == 120.0);
}

/* Blocks of 256 KiB at a 64 KiB interval: each is kept with p = 1 - e^-4.
 * Three were kept; the estimate adds what their weights say was missed. One
 * missed block puts the truth a block above what was observed, more than
 * two standard deviations above the estimate: the interval must reach it. */
static void test_interval_reaches_one_missed_block(void)
{
    double size = 262144.0;
    double p = 1.0 - exp(-4.0);
    struct estimate estimate = {3 * size / p, 3 / p, 3 * size * size * (1 - p) / (p * p),
                                3 * size};
    double low, high;
    estimate_interval(&estimate, &low, &high);
    double truth_one_missed = 4 * size;
    CHECK(truth_one_missed > estimate.bytes + 1.96 * sqrt(estimate.bytes_variance));
    CHECK(high >= truth_one_missed);
    CHECK(low == estimate.observed_bytes);
    CHECK(high < 6 * size); /* not unbounded: three missed blocks are out */
}

/* Every kept block was certain to be kept (variance 0): small blocks none
 * of which was kept could still hide up to T ln 40 bytes, so the whole
 * capture's interval reaches that far; a location's does not. */
static void test_whole_capture_interval_allows_unseen_bytes(void)
{
    struct estimate estimate = {5e6, 5, 0, 5e6};
    double low, high;
    estimate_interval_of_whole(&estimate, 16384, &low, &high);
    CHECK(low == 5e6);
    CHECK(near(high, 5e6 + 16384 * log(40.0)));
    estimate_interval(&estimate, &low, &high);
    CHECK(low == 5e6 && high == 5e6);
}

int main(void)
{
    RUN_TEST(test_gamma);
    RUN_TEST(test_poisson);
    RUN_TEST(test_interval_reaches_one_missed_block);
    RUN_TEST(test_whole_capture_interval_allows_unseen_bytes);
    return test_harness_exit_code();
}
