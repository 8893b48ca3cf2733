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

--benchmark runs any benchmark of the overhead benchmark's set (the same
in-process pyperformance runner), at scale x its calibrated work and twice
that; without it, allocation_heavy.py at --requests and twice that.
"""

import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import environment  # noqa: E402
from harness.benchmark_set import BENCHMARK_SET  # noqa: E402
from harness.configurations import CONFIGURATIONS, capture_path  # noqa: E402

WORKLOAD = pathlib.Path(__file__).resolve().parent / "workloads" / "allocation_heavy.py"
TOTAL = re.compile(rb"summary:\s*(\d+)")


def instructions(command, directory):
    """Instructions executed by the main thread of command and its children
    (the tracker's writer thread is another thread and is left out)."""
    output = pathlib.Path(directory) / "callgrind.out.%p"
    subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes",
                    "--separate-threads=yes", f"--callgrind-out-file={output}", *command],
                   check=True, cwd=directory, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    total = 0
    for profile in pathlib.Path(directory).glob("callgrind.out.*"):
        if profile.name.endswith("-01"):
            match = TOTAL.search(profile.read_bytes())
            total += int(match.group(1)) if match else 0
        profile.unlink()
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configurations", default="python,memlyze,memlyze-sample-512k")
    parser.add_argument("--requests", default="300")
    parser.add_argument("--benchmark", choices=list(BENCHMARK_SET), default=None,
                        help="a benchmark of the overhead set instead of allocation_heavy.py")
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
    if arguments.benchmark:
        benchmark = BENCHMARK_SET[arguments.benchmark]
        script, title = benchmark.script, arguments.benchmark
        small = max(1, round(benchmark.size * arguments.scale))
        build_arguments = benchmark.build_arguments
    else:
        script, title = WORKLOAD, "allocation_heavy.py"
        small = int(arguments.requests)
        build_arguments = lambda size: [str(size)]  # noqa: E731
    large = 2 * small
    counts = {}
    with tempfile.TemporaryDirectory(prefix="memlyze-callgrind-") as directory:
        for name in names:
            configuration = CONFIGURATIONS[name]
            capture = capture_path(directory, configuration, "workload") \
                if configuration.capture_suffix else None
            counts[name] = [
                instructions(configuration.build_command(python, script, build_arguments(size),
                                                         capture), directory)
                for size in (small, large)]
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


if __name__ == "__main__":
    main()
