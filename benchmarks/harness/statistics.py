"""Medians, bootstrap confidence intervals and geometric means of ratios."""

import math
import random
import statistics


def median(values):
    return statistics.median(values)


def bootstrap_ratio_interval(profiled, baseline, rounds=2000, seed=12345):
    """95% interval of median(profiled) / median(baseline) by resampling both."""
    generator = random.Random(seed)
    ratios = []
    for _ in range(rounds):
        resampled_profiled = [generator.choice(profiled) for _ in profiled]
        resampled_baseline = [generator.choice(baseline) for _ in baseline]
        ratios.append(median(resampled_profiled) / median(resampled_baseline))
    ratios.sort()
    return ratios[int(0.025 * rounds)], ratios[int(0.975 * rounds) - 1]


def geometric_mean(values):
    return math.exp(sum(math.log(value) for value in values) / len(values))
