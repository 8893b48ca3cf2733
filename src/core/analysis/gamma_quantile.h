/*
 * Quantiles of the gamma distribution, for the upper end of sampled
 * estimates' intervals (capture_estimates.c): what sampling missed is a sum
 * of whole blocks, skewed to the right when few are missed, and a gamma of
 * the same mean and variance has that skew where a normal does not.
 */
#ifndef MEMLYZE_GAMMA_QUANTILE_H
#define MEMLYZE_GAMMA_QUANTILE_H

/* The regularized lower incomplete gamma function P(shape, x): the chance
 * that a gamma variable of that shape and scale 1 is at most x. shape > 0. */
double gamma_probability(double shape, double x);

/* The x with gamma_probability(shape, x) = probability (0 < probability <
 * 1), for scale 1, to a relative precision of about 1e-9. */
double gamma_quantile(double shape, double probability);

#endif
