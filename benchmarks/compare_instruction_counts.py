"""Instruction counts of two memlyze builds side by side, in one run: each
interpreter (one with the "before" build installed, one with the "after")
runs the same workloads under the same configurations, interleaved per
workload, and the marginal main-thread instructions (see
instruction_counts.py) are compared as after / before.

    python benchmarks/compare_instruction_counts.py \
        --before /tmp/base/.venv/bin/python --after .venv/bin/python \
        --benchmarks allocation_heavy,json_dumps --configurations memlyze
"""

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness.benchmark_set import BENCHMARK_SET  # noqa: E402
from instruction_counts import count_benchmark  # noqa: E402


def marginal(counts, name):
    small, large = counts[name]
    return large - small


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="interpreter with the baseline build")
    parser.add_argument("--after", required=True, help="interpreter with the build judged")
    parser.add_argument("--benchmarks", default="allocation_heavy,json_dumps")
    parser.add_argument("--configurations", default="memlyze")
    parser.add_argument("--scale", type=float, default=0.1)
    arguments = parser.parse_args()
    names = ["python", *[name for name in arguments.configurations.split(",")
                         if name != "python"]]
    print("| benchmark | configuration | before (marginal instructions) | after | after / before |")
    print("|---|---|---|---|---|", flush=True)
    for benchmark_name in arguments.benchmarks.split(","):
        benchmark = BENCHMARK_SET[benchmark_name]
        small = max(1, round(benchmark.size * arguments.scale))
        counts = {}
        for side in ("before", "after"):
            python = pathlib.Path(getattr(arguments, side))
            counts[side] = count_benchmark(python, names, benchmark.script,
                                           benchmark.build_arguments, small)
        for name in names:
            before, after = marginal(counts["before"], name), marginal(counts["after"], name)
            print(f"| {benchmark_name} | {name} | {before:,} | {after:,} | {after / before:.4f} |",
                  flush=True)


if __name__ == "__main__":
    main()
