"""Workloads whose allocations are known exactly, for judging sampled
estimates in-process (benchmarks/sampling_accuracy.py --coverage).

Each is a function of a list that keeps every other block alive (the rest
are dropped at once), with sizes from a fixed-seed generator, so every run
allocates exactly the same:

- mixed: the five families of sampling_ground_truth.py (16 B to 8 MiB);
- large: blocks of 256 KiB to 8 MiB only (where a block is larger than the
  sampling interval and few are ever missed);
- small: objects of 16 B to 4 KiB only (where every kept one stands for many).
"""

import random


def sizes(generator, count, low, high):
    """count sizes, log-uniform between low and high bytes."""
    low_log, high_log = low.bit_length() - 1, high.bit_length() - 1
    return [int(2 ** generator.uniform(low_log, high_log)) for _ in range(count)]


def allocate(kept, block_sizes):
    for index, size in enumerate(block_sizes):
        block = bytes(size)
        if index % 2 == 0:
            kept.append(block)


def mixed(kept):
    generator = random.Random(20261123)
    for count, low, high in ((12_000, 16, 128), (2_400, 128, 4096), (120, 4096, 262_144),
                             (12, 262_144, 8 * 1024 * 1024), (800, 16, 128 * 1024)):
        allocate(kept, sizes(generator, count, low, high))


def large(kept):
    allocate(kept, sizes(random.Random(20261202), 120, 262_144, 8 * 1024 * 1024))


def small(kept):
    allocate(kept, sizes(random.Random(20261203), 30_000, 16, 4096))


WORKLOADS = {"mixed": mixed, "large": large, "small": small}
