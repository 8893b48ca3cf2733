"""The pytest plugin's overhead on a real test suite, beside pytest-memray's.

Downloads the sdist of a pure-Python package that ships its tests
(more-itertools by default: ~765 tests and ~21,000 subtests) with pip, then
runs its suite with ``python -m pytest`` under each configuration:

    plain          no profiling plugin (-p no:memlyze -p no:memray)
    memlyze        --memlyze (sampled, the default)
    memlyze-full   --memlyze-full (every allocation)
    pytest-memray  --memray (pytest-memray from PyPI)

Configurations alternate run by run (the order rotates each round), so that
drift of a shared machine hits all alike. Reports per configuration the
median wall and CPU time, the ratio to plain with a bootstrap 95% interval,
and checks every run passed the same number of tests and that the profiled
ones printed their plugin's summary (a run where the plugin did nothing
would otherwise look free).

With --instructions, each configuration runs once under valgrind's callgrind
instead and the table gives its instruction count (every thread) as a ratio
to plain: repeatable where a shared machine's timings are not. The writer
thread's periodic wake-ups are over-counted there (the program runs ~50x
slower under valgrind while the writer's period stays), so the ratio
overstates memlyze's cost, if anything. --select EXPR passes -k EXPR to pytest
(e.g. to leave out tests that take minutes under valgrind).

The interpreter (--python, default this one) needs memlyze, pytest,
pytest-memray and memray installed:

    pip install pytest-memray memray
    python benchmarks/pytest_plugin_overhead.py --runs 5 \\
        --output-prefix benchmarks/results/pytest-plugin-overhead-3.11
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness.statistics import bootstrap_ratio_interval, median  # noqa: E402

CONFIGURATIONS = {
    "plain": ["-p", "no:memlyze", "-p", "no:memray"],
    "memlyze": ["--memlyze", "-p", "no:memray"],
    "memlyze-full": ["--memlyze-full", "-p", "no:memray"],
    "pytest-memray": ["--memray", "-p", "no:memlyze"],
}
# What each configuration's run must print: its plugin's summary.
SUMMARY_MARKS = {"memlyze": "memlyze: the ", "memlyze-full": "memlyze: the ",
                 "pytest-memray": "MEMRAY REPORT"}


def fetch_suite(python, requirement, folder):
    """Downloads and unpacks requirement's sdist; returns its folder."""
    subprocess.run([python, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--no-binary", ":all:", requirement, "-d", str(folder)], check=True)
    (archive,) = folder.glob("*.tar.gz")
    with tarfile.open(archive) as sdist:
        sdist.extractall(folder, filter="data")
    (source,) = [path for path in folder.iterdir() if path.is_dir()]
    return source


def run_suite(python, source, tests, options):
    """(wall s, cpu s, passed count, output) of one run of the suite; CPU is
    user + system of the process and its children (wait4)."""
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, *tests]
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=source, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{text[-3000:]}")
    passed = re.search(r"(\d+) passed", text)
    return wall, usage.ru_utime + usage.ru_stime, int(passed.group(1)) if passed else 0, text


def count_instructions(python, source, tests, options):
    """(instructions, passed count) of one run of the suite under callgrind."""
    with tempfile.TemporaryDirectory(prefix="memlyze-callgrind-") as folder:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out",
                   python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, *tests]
        result = subprocess.run(command, cwd=source, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    collected = re.search(r"Collected : (\d+)", result.stderr)
    passed = re.search(r"(\d+) passed", result.stdout)
    return int(collected.group(1)), int(passed.group(1)) if passed else 0


def measure_instructions(python, source, tests, configurations):
    counts, passed_counts = {}, set()
    for name in configurations:
        counts[name], passed = count_instructions(python, source, tests, CONFIGURATIONS[name])
        passed_counts.add(passed)
        print(f"{name:14} {counts[name]:>16,} instructions  passed {passed}", flush=True)
    if len(passed_counts) != 1:
        raise SystemExit(f"runs passed different numbers of tests: {sorted(passed_counts)}")
    return counts, passed_counts.pop()


def instruction_markdown(result):
    lines = [
        f"# pytest plugin overhead in instructions: {result['suite']} ({result['passed']} tests), "
        f"Python {result['python_version']}",
        "",
        f"{result['date']}, one run per configuration under callgrind (every thread counted), "
        f"`{result['command']}`.",
        "",
        "| configuration | instructions | ratio to plain |",
        "|---|---|---|",
    ]
    plain = result["instructions"]["plain"]
    for name, count in result["instructions"].items():
        lines.append(f"| {name} | {count:,} | {count / plain:.4f} |")
    return "\n".join(lines) + "\n"


def measure(python, source, tests, configurations, runs):
    times = {name: {"wall": [], "cpu": []} for name in configurations}
    counts = set()
    for round_number in range(runs):
        shift = round_number % len(configurations)
        for name in configurations[shift:] + configurations[:shift]:
            wall, cpu, passed, text = run_suite(python, source, tests, CONFIGURATIONS[name])
            mark = SUMMARY_MARKS.get(name)
            if mark is not None and mark not in text:
                raise SystemExit(f"{name}: the run printed no plugin summary:\n{text[-2000:]}")
            counts.add(passed)
            times[name]["wall"].append(wall)
            times[name]["cpu"].append(cpu)
            print(f"round {round_number + 1}/{runs} {name:14} wall {wall:7.2f} s  "
                  f"cpu {cpu:7.2f} s  passed {passed}", flush=True)
    if len(counts) != 1:
        raise SystemExit(f"runs passed different numbers of tests: {sorted(counts)}")
    return times, counts.pop()


def ratios(times):
    baseline = times["plain"]
    rows = {}
    for name, measured in times.items():
        row = {}
        for kind in ("wall", "cpu"):
            low, high = bootstrap_ratio_interval(measured[kind], baseline[kind])
            row[kind] = {"median_s": median(measured[kind]),
                         "ratio": median(measured[kind]) / median(baseline[kind]),
                         "ratio_ci95": [low, high], "runs_s": measured[kind]}
        rows[name] = row
    return rows


def markdown(result):
    lines = [
        f"# pytest plugin overhead: {result['suite']} ({result['passed']} tests), "
        f"Python {result['python_version']}",
        "",
        f"{result['date']}, {result['runs']} interleaved runs per configuration, "
        f"`{result['command']}`. Machine: {result['machine']}, load average "
        f"{result['load_average']['before']:.1f} before, {result['load_average']['after']:.1f} after.",
        "",
        "| configuration | median wall | wall ratio (95% CI) | median CPU | CPU ratio (95% CI) |",
        "|---|---|---|---|---|",
    ]
    for name, row in result["configurations"].items():
        wall, cpu = row["wall"], row["cpu"]
        lines.append(f"| {name} | {wall['median_s']:.2f} s | {wall['ratio']:.3f} "
                     f"({wall['ratio_ci95'][0]:.3f}-{wall['ratio_ci95'][1]:.3f}) | "
                     f"{cpu['median_s']:.2f} s | {cpu['ratio']:.3f} "
                     f"({cpu['ratio_ci95'][0]:.3f}-{cpu['ratio_ci95'][1]:.3f}) |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--suite", default="more-itertools==11.2.1",
                        help="requirement whose sdist ships its tests")
    parser.add_argument("--tests", nargs="+", default=["tests"],
                        help="test paths inside the sdist")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--configurations", default=",".join(CONFIGURATIONS))
    parser.add_argument("--select", metavar="EXPR", help="pass -k EXPR to pytest")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions under callgrind, one run per configuration")
    parser.add_argument("--output-prefix", help="write PREFIX.json and PREFIX.md")
    arguments = parser.parse_args()
    tests = arguments.tests + (["-k", arguments.select] if arguments.select else [])
    configurations = arguments.configurations.split(",")
    if configurations[0] != "plain" or not set(configurations) <= set(CONFIGURATIONS):
        parser.error(f"--configurations: plain first, then any of {', '.join(CONFIGURATIONS)}")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="memlyze-pytest-bench-") as folder:
        source = fetch_suite(arguments.python, arguments.suite, pathlib.Path(folder))
        if arguments.instructions:
            counts, passed = measure_instructions(arguments.python, source, tests, configurations)
        else:
            times, passed = measure(arguments.python, source, tests, configurations,
                                    arguments.runs)
    version = subprocess.run([arguments.python, "-c", "import platform; "
                              "print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    result = {
        "suite": arguments.suite, "passed": passed, "runs": arguments.runs,
        "python_version": version, "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared)",
        "command": shlex.join(["python", "benchmarks/pytest_plugin_overhead.py", *sys.argv[1:]]),
        # A shared machine's load widens the intervals: recorded with them.
        "load_average": {"before": load_before[0], "after": os.getloadavg()[0]},
    }
    if arguments.instructions:
        result["instructions"] = counts
        text = instruction_markdown(result)
    else:
        result["configurations"] = ratios(times)
        text = markdown(result)
    print(text)
    if arguments.output_prefix:
        pathlib.Path(arguments.output_prefix + ".json").write_text(json.dumps(result, indent=2))
        pathlib.Path(arguments.output_prefix + ".md").write_text(text)


if __name__ == "__main__":
    main()
