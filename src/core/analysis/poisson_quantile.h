/*
 * Quantiles of the Poisson distribution, for the upper end of sampled
 * estimates' intervals (capture_estimates.c): what sampling missed is a sum
 * of whole unseen blocks, and when few are missed on average their number
 * is close to a Poisson variable.
 */
#ifndef MEMLYZE_POISSON_QUANTILE_H
#define MEMLYZE_POISSON_QUANTILE_H

/* The smallest n with P(N <= n) >= probability for N of Poisson law of the
 * given mean (0 <= mean <= 1000, 0 < probability < 1). */
double poisson_quantile(double mean, double probability);

#endif
