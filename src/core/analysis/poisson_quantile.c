/* Poisson quantiles: see poisson_quantile.h. The probabilities are summed
 * from n = 0 up: at most a few hundred terms for the means asked for. */
#include "core/analysis/poisson_quantile.h"

#include <math.h>

double poisson_quantile(double mean, double probability)
{
    double term = exp(-mean); /* P(N = 0); above 1e-300 for means up to 690 */
    double cumulative = term;
    double n = 0.0;
    /* The bound on n only guards against a probability rounding never reaches. */
    while (cumulative < probability && n < mean + 100.0 * sqrt(mean) + 100.0) {
        n += 1.0;
        term *= mean / n;
        cumulative += term;
    }
    return n;
}
