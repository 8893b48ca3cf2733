"""A numpy-heavy workload: array arithmetic, reductions, sorting, linear
algebra and fancy indexing that allocate many large temporary arrays
through numpy's own data allocator (its allocations are native, with few
Python objects per byte).

Runs a fixed number of rounds (no timing of its own):

    python numpy_heavy.py [ROUNDS]
"""

import os
import sys

# One BLAS thread: on a small shared machine, BLAS threads make the timing
# depend on what else runs, and this workload is about allocations.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import numpy  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 4


def one_round(generator, index):
    size = 200_000 + (index % 5) * 50_000
    values = generator.standard_normal(size)
    scaled = values * 3.0 + 1.0          # temporaries of `size` doubles each
    clipped = numpy.clip(scaled, -2.0, 4.0)
    order = numpy.argsort(clipped)
    picked = clipped[order[::7]]         # fancy indexing: another array
    matrix = generator.standard_normal((120, 120))
    product = matrix @ matrix.T
    solved = numpy.linalg.solve(product + numpy.eye(120) * 120.0, numpy.ones(120))
    pieces = [values[start:start + 1000].copy() for start in range(0, 100_000, 1000)]
    stacked = numpy.concatenate(pieces)
    return float(picked.sum() + solved.sum() + stacked.mean())


def main():
    generator = numpy.random.default_rng(12345)
    total = 0.0
    for index in range(ROUNDS):
        total += one_round(generator, index)
    print(f"{ROUNDS} rounds, checksum {total:.3f}")


if __name__ == "__main__":
    main()
