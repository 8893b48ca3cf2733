"""Instruction counts (valgrind --tool=callgrind) of a workload under several
configurations, as ratios to plain Python: repeatable where wall-clock
timings are noisier than the effect being judged (the 1% target of sampled
recording).

Two corrections make the counts say what the program pays per unit of work:
- only the program's own threads are counted (--separate-threads): under
  valgrind the program runs ~50x slower, so the tracker's writer thread,
  which wakes every 10 ms whatever the program does, would be counted 50
  times over (its real cost is reported by the wall/CPU-time benchmark);
- the workload runs at two sizes and the difference is compared (marginal
  instructions per extra request), so one-off start-up costs (imports, the
  `memlyze run` command line) do not blur a per-allocation cost.

    python benchmarks/instruction_counts.py --configurations python,memlyze-sample-512k
    python benchmarks/instruction_counts.py --benchmark deltablue --scale 0.1
    python benchmarks/instruction_counts.py --benchmarks quick \
        --configurations python,memlyze-sample-512k

--benchmarks runs benchmarks of the overhead benchmark's set (the same
in-process runner; `quick` is its --quick set), each at scale x its
calibrated work and twice that, and ends with a table of the ratios and
their geometric mean; without it, allocation_heavy.py at --requests and
twice that. Runs use PYTHONHASHSEED=0 so that counts repeat.
"""

import argparse
import math
import os
import pathlib
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import environment  # noqa: E402
from harness.benchmark_set import BENCHMARK_SET, QUICK  # noqa: E402
from harness.configurations import CONFIGURATIONS, capture_path  # noqa: E402

WORKLOAD = pathlib.Path(__file__).resolve().parent / "workloads" / "allocation_heavy.py"
TOTAL = re.compile(rb"summary:\s*(\d+)")
# str hashing randomised per process changes dict and set work by ~0.5%
# between runs: a fixed seed makes the counts repeat.
FIXED_HASHES = {**os.environ, "PYTHONHASHSEED": "0"}


def instructions(command, directory):
    """Instructions executed by the main thread of command and its children
    (the tracker's writer thread is another thread and is left out)."""
    output = pathlib.Path(directory) / "callgrind.out.%p"
    subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes",
                    "--separate-threads=yes", f"--callgrind-out-file={output}", *command],
                   check=True, cwd=directory, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=FIXED_HASHES)
    total = 0
    for profile in pathlib.Path(directory).glob("callgrind.out.*"):
        if profile.name.endswith("-01"):
            match = TOTAL.search(profile.read_bytes())
            total += int(match.group(1)) if match else 0
        profile.unlink()
    return total


def count_benchmark(python, names, script, build_arguments, small):
    """{configuration: (instructions at small, at 2 x small)}."""
    counts = {}
    with tempfile.TemporaryDirectory(prefix="memlyze-callgrind-") as directory:
        for name in names:
            configuration = CONFIGURATIONS[name]
            capture = capture_path(directory, configuration, "workload") \
                if configuration.capture_suffix else None
            counts[name] = [
                instructions(configuration.build_command(python, script, build_arguments(size),
                                                         capture), directory)
                for size in (small, 2 * small)]
    return counts


def print_counts(title, small, counts):
    large = 2 * small
    print(f"{title}, sizes {small} and {large}: callgrind instructions of the "
          f"program's main thread\n")
    print(f"| configuration | at {small} | at {large} | marginal ({large} - {small}) | "
          "marginal ratio to plain Python |")
    print("|---|---|---|---|---|")
    baseline = counts["python"][1] - counts["python"][0]
    for name, (at_small, at_large) in counts.items():
        marginal = at_large - at_small
        print(f"| {name} | {at_small:,} | {at_large:,} | {marginal:,} | "
              f"{marginal / baseline:.4f} |")
    print(flush=True)
    return {name: (at_large - at_small) / baseline for name, (at_small, at_large)
            in counts.items()}


def print_summary(ratios, names):
    """One row per benchmark, one column per configuration, and the geometric mean."""
    print("Marginal instructions, ratio to plain Python\n")
    print("| benchmark | " + " | ".join(names[1:]) + " |")
    print("|---|" + "---|" * (len(names) - 1))
    for benchmark, by_name in ratios.items():
        print(f"| {benchmark} | " + " | ".join(f"{by_name[name]:.4f}" for name in names[1:])
              + " |")
    means = [math.exp(sum(math.log(by_name[name]) for by_name in ratios.values()) / len(ratios))
             for name in names[1:]]
    print("| **geometric mean** | " + " | ".join(f"**{mean:.4f}**" for mean in means) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configurations", default="python,memlyze,memlyze-sample-512k")
    parser.add_argument("--requests", default="300")
    parser.add_argument("--benchmark", "--benchmarks", dest="benchmarks", default=None,
                        help="comma-separated benchmarks of the overhead set (or 'quick') "
                             "instead of allocation_heavy.py")
    parser.add_argument("--scale", type=float, default=0.1,
                        help="with --benchmark: the smaller run's share of its calibrated work")
    parser.add_argument("--skip-install", action="store_true")
    parser.add_argument("--python", default=None, help="count this interpreter's runs")
    arguments = parser.parse_args()
    if arguments.python:
        python = pathlib.Path(arguments.python)
    else:
        python = environment.python_path() if arguments.skip_install else \
            environment.ensure_environment()
    names = arguments.configurations.split(",")
    if "python" not in names:
        names.insert(0, "python")
    for name in names:
        reason = CONFIGURATIONS[name].unavailable(python)
        if reason:
            raise SystemExit(f"{name} cannot run: {reason}")
    if not arguments.benchmarks:
        counts = count_benchmark(python, names, WORKLOAD, lambda size: [str(size)],
                                 int(arguments.requests))
        print_counts("allocation_heavy.py", int(arguments.requests), counts)
        return
    benchmarks = QUICK if arguments.benchmarks == "quick" else arguments.benchmarks.split(",")
    unknown = [name for name in benchmarks if name not in BENCHMARK_SET]
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)}")
    ratios = {}
    for name in benchmarks:
        benchmark = BENCHMARK_SET[name]
        small = max(1, round(benchmark.size * arguments.scale))
        counts = count_benchmark(python, names, benchmark.script, benchmark.build_arguments,
                                 small)
        ratios[name] = print_counts(name, small, counts)
    if len(ratios) > 1:
        print_summary(ratios, names)


if __name__ == "__main__":
    main()
