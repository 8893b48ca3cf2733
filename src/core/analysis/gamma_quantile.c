/* Gamma quantiles: see gamma_quantile.h. P(a, x) by its power series below
 * x = a + 1 and by the continued fraction of Q = 1 - P above, where each
 * converges fast; the quantile by bisection, which needs nothing of P but
 * that it grows with x. */
#include "core/analysis/gamma_quantile.h"

#include <math.h>

#define SERIES_TERMS 1000
#define FRACTION_TERMS 1000
#define PRECISION 1e-15
#define TINY 1e-300
#define BISECTIONS 200

/* P(a, x) = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n)). */
static double lower_series(double shape, double x)
{
    double term = 1.0;
    double sum = 1.0;
    for (int n = 1; n < SERIES_TERMS; n++) {
        term *= x / (shape + n);
        sum += term;
        if (term < sum * PRECISION) {
            break;
        }
    }
    return exp(shape * log(x) - x - lgamma(shape + 1.0)) * sum;
}

/* Q(a, x) by the modified Lentz evaluation of its continued fraction. */
static double upper_fraction(double shape, double x)
{
    double b = x + 1.0 - shape;
    double c = 1.0 / TINY;
    double d = 1.0 / b;
    double fraction = d;
    for (int n = 1; n < FRACTION_TERMS; n++) {
        double a = -n * (n - shape);
        b += 2.0;
        d = a * d + b;
        d = fabs(d) < TINY ? TINY : d;
        c = b + a / c;
        c = fabs(c) < TINY ? TINY : c;
        d = 1.0 / d;
        double step = d * c;
        fraction *= step;
        if (fabs(step - 1.0) < PRECISION) {
            break;
        }
    }
    return exp(shape * log(x) - x - lgamma(shape)) * fraction;
}

double gamma_probability(double shape, double x)
{
    if (!(x > 0)) {
        return 0.0;
    }
    return x < shape + 1.0 ? lower_series(shape, x) : 1.0 - upper_fraction(shape, x);
}

double gamma_quantile(double shape, double probability)
{
    double low = 0.0;
    double high = shape + 10.0 * sqrt(shape) + 10.0;
    while (gamma_probability(shape, high) < probability && high < 1e300) {
        low = high;
        high *= 2.0;
    }
    for (int step = 0; step < BISECTIONS && high - low > 1e-9 * high; step++) {
        double middle = 0.5 * (low + high);
        if (gamma_probability(shape, middle) < probability) {
            low = middle;
        } else {
            high = middle;
        }
    }
    return 0.5 * (low + high);
}
