"""What one recorded allocation costs at several Python stack depths.

Allocates (and frees) a 1000-byte bytearray N times at the bottom of a
recursion of the given depth, with and without a full memlyze recording, and
prints the extra CPU time per allocation. The tracker walks the calling
thread's frames for every recorded event, but reuses the unchanged outer part
of the previous stack, so the cost grows only slowly with depth.

    python benchmarks/stack_depth_cost.py
"""

import os
import sys
import tempfile
import time

import memlyze

ALLOCATIONS = 300_000


def allocate_at_depth(depth, count):
    if depth > 1:
        return allocate_at_depth(depth - 1, count)
    for _ in range(count):
        block = bytearray(1000)
        del block
    return count


def cpu_seconds(depth, tracked):
    path = os.path.join(tempfile.mkdtemp(), "depth.mlyze")
    started = time.process_time()
    if tracked:
        with memlyze.Tracker(path, track_gc=False, rss_interval=0):
            allocate_at_depth(depth, ALLOCATIONS)
    else:
        allocate_at_depth(depth, ALLOCATIONS)
    return time.process_time() - started


def main():
    sys.setrecursionlimit(10_000)
    print(f"{ALLOCATIONS:,} allocations + frees per measurement (CPU time, best of 5)\n")
    print("| stack depth | plain ns/allocation | recorded ns/allocation | extra ns |")
    print("|---|---|---|---|")
    for depth in (1, 10, 50, 100, 200):
        plain = min(cpu_seconds(depth, False) for _ in range(5)) / ALLOCATIONS * 1e9
        recorded = min(cpu_seconds(depth, True) for _ in range(5)) / ALLOCATIONS * 1e9
        print(f"| {depth} | {plain:.0f} | {recorded:.0f} | {recorded - plain:.0f} |")


if __name__ == "__main__":
    main()
