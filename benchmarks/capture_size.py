"""Capture bytes per recorded allocation, memlyze and memray side by side.

Records each benchmark of the set (the same in-process runs as
benchmarks/overhead.py) once under memlyze and memray, in their default
mode and tracing the Python allocators too, and reports per benchmark each
capture's size, the allocations it holds (each profiler's own count) and
bytes per allocation, the ratio of memlyze's to memray's bytes per
allocation, and the geometric mean of that ratio (SPEC: at most 0.5). The
two tools do not count exactly the same events, so the ratio of whole file
sizes is shown as well. Then the same, in the default mode, for real
programs run as their own processes (harness/real_programs.py: black on a
source tree, a pandas script, a pytest suite, a thread pool).

    python benchmarks/capture_size.py --skip-install --benchmarks allocation_heavy,json_dumps
    python benchmarks/capture_size.py --skip-install --benchmarks none --programs all
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import overhead  # noqa: E402
from harness.benchmark_set import BENCHMARK_SET, QUICK  # noqa: E402
from harness.configurations import CONFIGURATIONS  # noqa: E402
from harness.real_programs import PROGRAMS  # noqa: E402
from harness.statistics import geometric_mean  # noqa: E402

PAIRS = {"default": ("memlyze", "memray"),
         "python allocators": ("memlyze-python-allocators", "memray-python-allocators")}


def measure(benchmarks, python, scale):
    """{mode: {benchmark: {configuration: {"allocations", "bytes", ...} or {"error"}}}}"""
    results = {mode: {} for mode in PAIRS}
    with tempfile.TemporaryDirectory(prefix="memlyze-capture-size-") as directory:
        for name in benchmarks:
            for mode, pair in PAIRS.items():
                results[mode][name] = {}
                for configuration in pair:
                    try:
                        _, recorded = overhead.run_once(
                            BENCHMARK_SET[name], CONFIGURATIONS[configuration], python,
                            directory, scale, count=True)
                    except overhead.RecordingError as error:
                        recorded = {"error": str(error)}
                        print(f"  REJECTED {name} under {error}", file=sys.stderr)
                    results[mode][name][configuration] = recorded
            print(f"  {name} done", file=sys.stderr)
    return results


def record_program(name, configuration, python, directory):
    """Runs program name under configuration; {"allocations", "bytes",
    "bytes_per_allocation"} or {"error"}."""
    _, prepare = PROGRAMS[name]
    argv, variables = prepare(directory, python)
    capture = pathlib.Path(directory) / f"program{configuration.capture_suffix}"
    command = configuration.build_command(python, argv[0], argv[1:], capture)
    result = subprocess.run(command, cwd=directory, capture_output=True, text=True,
                            env=dict(os.environ, **variables))
    if result.returncode != 0 or not capture.exists():
        tail = " | ".join(result.stderr.strip().splitlines()[-3:])
        return {"error": f"exit status {result.returncode}: {tail or 'no stderr'}"}
    try:
        allocations = configuration.count_allocations(python, capture)
        size = capture.stat().st_size
    finally:
        capture.unlink()
    return {"allocations": allocations, "bytes": size,
            "bytes_per_allocation": size / max(allocations, 1)}


def measure_programs(names, python):
    """{"real programs": {program: {configuration: {...}}}} in the default mode."""
    mine, theirs = PAIRS["default"]
    results = {}
    with tempfile.TemporaryDirectory(prefix="memlyze-capture-size-programs-") as directory:
        for name in names:
            results[name] = {configuration: record_program(
                name, CONFIGURATIONS[configuration], python, directory)
                for configuration in (mine, theirs)}
            print(f"  {name} done", file=sys.stderr)
    return {"real programs": results}


def available_programs(names, python):
    runnable, skipped = [], {}
    for name in names:
        modules, _ = PROGRAMS[name]
        missing = overhead.missing_modules(python, modules)
        if missing:
            skipped[name] = f"needs {', '.join(missing)}, not importable in {python}"
        else:
            runnable.append(name)
    return runnable, skipped


def markdown(results, pairs=PAIRS):
    lines = []
    for mode, (mine, theirs) in pairs.items():
        if mode not in results:
            continue
        lines += [f"## {mode}: `{mine}` vs `{theirs}`", "",
                  f"| benchmark | {mine} bytes | allocations | bytes/allocation | "
                  f"{theirs} bytes | allocations | bytes/allocation | "
                  "ratio of bytes/allocation | ratio of file sizes |",
                  "|---|---|---|---|---|---|---|---|---|"]
        ratios, size_ratios = [], []
        for benchmark, pair in results[mode].items():
            a, b = pair[mine], pair[theirs]
            if "error" in a or "error" in b:
                cells = []
                for side in (a, b):
                    cells += ["REJECTED", "", ""] if "error" in side else [
                        f"{side['bytes']:,}", f"{side['allocations']:,}",
                        f"{side['bytes_per_allocation']:.2f}"]
                lines.append(f"| {benchmark} | " + " | ".join(cells + ["-", "-"]) + " |")
                continue
            ratio = a["bytes_per_allocation"] / b["bytes_per_allocation"]
            size_ratio = a["bytes"] / b["bytes"]
            ratios.append(ratio)
            size_ratios.append(size_ratio)
            lines.append(f"| {benchmark} | {a['bytes']:,} | {a['allocations']:,} | "
                         f"{a['bytes_per_allocation']:.2f} | {b['bytes']:,} | "
                         f"{b['allocations']:,} | {b['bytes_per_allocation']:.2f} | "
                         f"{ratio:.3f} | {size_ratio:.3f} |")
        if ratios:
            lines.append(f"| **geometric mean** | | | | | | | **{geometric_mean(ratios):.3f}** "
                         f"| **{geometric_mean(size_ratios):.3f}** |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmarks", default=",".join(QUICK),
                        help=f"comma-separated; known: {','.join(BENCHMARK_SET)}; "
                             "'all' for every one")
    parser.add_argument("--programs", default="all",
                        help=f"comma-separated real programs; known: {','.join(PROGRAMS)}; "
                             "'all' or 'none'")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--output", help="write the results as JSON here")
    parser.add_argument("--skip-install", action="store_true")
    parser.add_argument("--python", default=None)
    parser.add_argument("--no-install", action="store_true")
    arguments = parser.parse_args(argv)
    python = overhead.choose_interpreter(arguments)
    names = list(BENCHMARK_SET) if arguments.benchmarks == "all" else \
        [] if arguments.benchmarks == "none" else arguments.benchmarks.split(",")
    programs = list(PROGRAMS) if arguments.programs == "all" else \
        [] if arguments.programs == "none" else arguments.programs.split(",")
    unknown = [name for name in names if name not in BENCHMARK_SET] + \
        [name for name in programs if name not in PROGRAMS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) or program(s): {', '.join(unknown)}")
    names, skipped = overhead.available_benchmarks(names, python)
    programs, skipped_programs = available_programs(programs, python)
    for name, reason in {**skipped, **skipped_programs}.items():
        print(f"skipping {name}: {reason}")
    missing = {name: reason for pair in PAIRS.values() for name in pair
               if (reason := CONFIGURATIONS[name].unavailable(python))}
    if missing:
        raise SystemExit("cannot compare: " + "; ".join(f"{k}: {v}" for k, v in missing.items()))
    results = measure(names, python, arguments.scale) if names else {}
    results.update(measure_programs(programs, python) if programs else {})
    print(f"Capture bytes per recorded allocation, one run each, work scale {arguments.scale}, "
          f"{python}\n")
    print(markdown(results, {**PAIRS, "real programs": PAIRS["default"]}))
    if arguments.output:
        pathlib.Path(arguments.output).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
