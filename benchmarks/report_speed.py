"""How fast memlyze's reports read a big capture, next to memray's.

Records one workload of N allocations (by default bytearray(600) then del,
in a loop, 10 million times; --workload varied: 8 call paths, varying sizes,
some blocks kept) with memlyze and with memray, then times the reports
on each capture: wall time and peak RSS (ru_maxrss from wait4) of
`memlyze stats`, `memlyze flamegraph` (or, if this memlyze has no flamegraph
command, `memlyze export --format json` and build_flame_data()), `memlyze
export --format pprof`, `memray stats` and `memray flamegraph`.

    python benchmarks/report_speed.py                       # 10M allocations
    python benchmarks/report_speed.py --workload varied --allocations 1000000 --skip-install
    python benchmarks/report_speed.py --memlyze-python /path/to/venv/bin/python

Targets: every memlyze report within 5 s, and a fraction of memray's time.
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import environment  # noqa: E402

WORKLOADS = {
    # The same allocation over and over: the capture compresses to almost nothing,
    # so this measures the per-record cost of reading.
    "churn": """
import sys


def churn(count):
    for _ in range(count):
        block = bytearray(600)
        del block


churn(int(sys.argv[1]))
""",
    # Sizes, stacks and lifetimes that vary: 8 call paths, one block in 16 kept
    # for a while, so captures are large and the heap moves.
    "varied": """
import sys

KEPT = []


def make(size, keep):
    block = bytearray(size)
    if keep:
        KEPT.append(block)
        if len(KEPT) > 20_000:
            KEPT.clear()


def path_a(i): make(600 + i % 3000, i % 16 == 0)
def path_b(i): make(700 + i % 1000, False)
def path_c(i): path_a(i)
def path_d(i): path_b(i)
def path_e(i): make(4096 + i % 64, i % 64 == 0)
def path_f(i): path_e(i)
def path_g(i): path_c(i)
def path_h(i): make(513 + i % 100, False)


PATHS = [path_a, path_b, path_c, path_d, path_e, path_f, path_g, path_h]


def main(count):
    for i in range(count):
        PATHS[i % 8](i)


main(int(sys.argv[1]))
""",
}

FLAME_DATA = """
import sys
from memlyze.reports.flame_data import build_flame_data
data = build_flame_data(sys.argv[1], progress=None)
print(data["meta"]["node_count"])
"""


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--allocations", type=int, default=10_000_000)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="churn",
                        help="churn: bytearray(600) then del (default); varied: 8 call "
                             "paths, varying sizes, some blocks kept")
    parser.add_argument("--memlyze-python", default=None,
                        help="the Python with the memlyze to measure (default: the benchmark venv)")
    parser.add_argument("--memray-python", default=None,
                        help="the Python with memray (default: the benchmark venv)")
    parser.add_argument("--skip-install", action="store_true",
                        help="reuse the benchmark environment as it is")
    parser.add_argument("--directory", default=None, help="keep the captures here")
    return parser.parse_args(argv)


def run_measured(command, cwd):
    """(wall seconds, peak RSS bytes) of one command; raises on failure."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=environment.environment_variables(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{stderr}")
    return wall, usage.ru_maxrss * 1024


def has_command(python, name, cwd):
    result = subprocess.run([python, "-m", "memlyze", name, "--help"], cwd=cwd,
                            capture_output=True, env=environment.environment_variables())
    return result.returncode == 0


def record(python_memlyze, python_memray, workload, allocations, directory):
    script = directory / "churn.py"
    script.write_text(WORKLOADS[workload])
    captures = {"memlyze": directory / "churn.mlyze", "memray": directory / "churn.memray"}
    for capture in captures.values():
        if capture.exists():
            capture.unlink()
    timings = {
        "record memlyze": run_measured([python_memlyze, "-m", "memlyze", "run", "-o",
                                        captures["memlyze"], script, str(allocations)], directory),
        "record memray": run_measured([python_memray, "-m", "memray", "run", "-q", "-o",
                                       captures["memray"], script, str(allocations)], directory),
    }
    return captures, timings


def report_commands(python_memlyze, python_memray, captures, directory):
    """(label, command) of each report to time."""
    memlyze, memray = captures["memlyze"], captures["memray"]
    commands = [("memlyze stats", [python_memlyze, "-m", "memlyze", "stats", memlyze])]
    if has_command(python_memlyze, "flamegraph", directory):
        commands.append(("memlyze flamegraph", [python_memlyze, "-m", "memlyze", "flamegraph",
                                                "-f", "-o", directory / "memlyze.html", memlyze]))
    else:
        commands.append(("memlyze export json (no flamegraph command)",
                         [python_memlyze, "-m", "memlyze", "export", "--format", "json", "-o",
                          directory / "memlyze.json", memlyze]))
    commands += [
        ("memlyze build_flame_data()", [python_memlyze, "-c", FLAME_DATA, memlyze]),
        ("memlyze export pprof", [python_memlyze, "-m", "memlyze", "export", "--format", "pprof",
                                  "-o", directory / "memlyze.pb.gz", memlyze]),
        ("memray stats", [python_memray, "-m", "memray", "stats", memray]),
        ("memray flamegraph", [python_memray, "-m", "memray", "flamegraph", "-f", "-o",
                               directory / "memray.html", memray]),
    ]
    return commands


def main(argv=None):
    options = parse_arguments(sys.argv[1:] if argv is None else argv)
    bench_python = environment.python_path()
    if not options.skip_install:
        bench_python = environment.ensure_environment()
    python_memlyze = options.memlyze_python or str(bench_python)
    python_memray = options.memray_python or str(bench_python)
    with tempfile.TemporaryDirectory(prefix="memlyze-report-speed-") as temporary:
        directory = pathlib.Path(options.directory or temporary).resolve()
        directory.mkdir(parents=True, exist_ok=True)
        captures, timings = record(python_memlyze, python_memray, options.workload,
                                   options.allocations, directory)
        print(f"workload {options.workload}: {options.allocations:,} allocations")
        for name, capture in captures.items():
            print(f"  {name} capture: {capture.stat().st_size / 2**20:,.1f} MiB")
        for label, (wall, rss) in timings.items():
            print(f"  {label}: {wall:.2f} s")
        print()
        print(f"{'report':<46} {'wall s':>8} {'peak RSS MiB':>13}")
        for label, command in report_commands(python_memlyze, python_memray, captures, directory):
            wall, rss = run_measured(command, directory)
            print(f"{label:<46} {wall:>8.2f} {rss / 2**20:>13.1f}", flush=True)


if __name__ == "__main__":
    main()
