"""A workload with a known allocation profile for judging sampled estimates.

Five functions allocate objects from 16 B to 8 MiB (sizes from a fixed-seed
generator, so every run allocates exactly the same), keeping every other
object alive until the end of main() and dropping the rest at once. With
scale 1.0 it allocates a little over 1 GiB in total.

    python sampling_ground_truth.py [SCALE]
"""

import random
import sys

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def sizes(generator, count, low, high):
    """count sizes, log-uniform between low and high bytes."""
    low_log, high_log = low.bit_length() - 1, high.bit_length() - 1
    return [int(2 ** generator.uniform(low_log, high_log)) for _ in range(count)]


# Each function allocates on its own line, so each is one location.

def tiny_objects(generator, kept):
    for index, size in enumerate(sizes(generator, int(600_000 * SCALE), 16, 128)):
        block = bytes(size)
        if index % 2 == 0:
            kept.append(block)


def small_objects(generator, kept):
    for index, size in enumerate(sizes(generator, int(120_000 * SCALE), 128, 4096)):
        block = bytes(size)
        if index % 2 == 0:
            kept.append(block)


def medium_objects(generator, kept):
    for index, size in enumerate(sizes(generator, int(6_000 * SCALE), 4096, 262_144)):
        block = bytes(size)
        if index % 2 == 0:
            kept.append(block)


def large_objects(generator, kept):
    for index, size in enumerate(sizes(generator, int(300 * SCALE), 262_144, 8 * 1024 * 1024)):
        block = bytes(size)
        if index % 2 == 0:
            kept.append(block)


def mixed_objects(generator, kept):
    for index, size in enumerate(sizes(generator, int(40_000 * SCALE), 16, 128 * 1024)):
        block = bytes(size)
        if index % 2 == 0:
            kept.append(block)


def main():
    generator = random.Random(20261123)
    kept = []
    tiny_objects(generator, kept)
    small_objects(generator, kept)
    medium_objects(generator, kept)
    large_objects(generator, kept)
    mixed_objects(generator, kept)
    total = sum(len(block) for block in kept)
    print(f"kept {len(kept)} objects, {total} bytes")


main()
