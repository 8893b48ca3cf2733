"""How much slower programs run under memlyze and its peers.

Runs each workload under each configuration, alternating configurations run
by run so that machine drift hits all alike, and reports per workload the
median wall-time and CPU-time ratio to plain Python with a bootstrap 95%
interval, the geometric mean per configuration, and capture bytes per
recorded allocation. Every profiled run is checked to have recorded a
plausible number of allocations.

    python benchmarks/overhead.py --runs 7 --configurations python,memlyze,memray
"""

import argparse
import json
import pathlib
import platform
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import environment  # noqa: E402
from harness.configurations import CONFIGURATIONS, capture_path  # noqa: E402
from harness.statistics import bootstrap_ratio_interval, geometric_mean, median  # noqa: E402
from harness.timing import run_measured  # noqa: E402

WORKLOADS_DIRECTORY = pathlib.Path(__file__).resolve().parent / "workloads"
WORKLOADS = {
    "allocation_heavy": (WORKLOADS_DIRECTORY / "allocation_heavy.py", ["3000"], 100_000),
}


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--configurations", default="python,memlyze,memray")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--output", default=None, help="write raw results as JSON here")
    parser.add_argument("--skip-install", action="store_true",
                        help="reuse the benchmark environment as it is")
    return parser.parse_args(argv)


def check_capture(configuration, python, capture, minimum):
    if configuration.count_allocations is None:
        return None
    if not capture.exists() or capture.stat().st_size == 0:
        raise SystemExit(f"{configuration.name}: no capture was written")
    allocations = configuration.count_allocations(python, capture)
    if allocations < minimum:
        raise SystemExit(f"{configuration.name}: capture holds only {allocations} allocations")
    return {"allocations": allocations, "bytes": capture.stat().st_size,
            "bytes_per_allocation": capture.stat().st_size / allocations}


def measure(workloads, configurations, runs, python):
    results = {}
    variables = environment.environment_variables()
    with tempfile.TemporaryDirectory(prefix="memlyze-bench-") as directory:
        for workload in workloads:
            script, arguments, minimum = WORKLOADS[workload]
            samples = {name: {"wall": [], "cpu": []} for name in configurations}
            captures = {}
            for run in range(runs):
                rotation = configurations[run % len(configurations):] + \
                    configurations[:run % len(configurations)]
                for name in rotation:
                    configuration = CONFIGURATIONS[name]
                    capture = capture_path(directory, configuration, workload) \
                        if configuration.capture_suffix else None
                    command = configuration.build_command(python, script, arguments, capture)
                    wall, cpu = run_measured(command, environment=variables, cwd=directory)
                    samples[name]["wall"].append(wall)
                    samples[name]["cpu"].append(cpu)
                    if run == 0:
                        captures[name] = check_capture(configuration, python, capture, minimum)
                print(f"  {workload}: run {run + 1}/{runs} done", file=sys.stderr)
            results[workload] = {"samples": samples, "captures": captures}
    return results


def summarise(results, configurations):
    rows = []
    for workload, result in results.items():
        baseline = result["samples"]["python"]
        for name in configurations:
            if name == "python":
                continue
            samples = result["samples"][name]
            row = {"workload": workload, "configuration": name}
            for measure_name in ("wall", "cpu"):
                ratio = median(samples[measure_name]) / median(baseline[measure_name])
                low, high = bootstrap_ratio_interval(samples[measure_name], baseline[measure_name])
                row[measure_name] = (ratio, low, high)
            row["capture"] = result["captures"].get(name)
            rows.append(row)
    return rows


def markdown_table(rows, configurations):
    lines = ["| workload | configuration | wall ratio (95% CI) | CPU ratio (95% CI) | "
             "capture bytes/allocation |", "|---|---|---|---|---|"]
    for row in rows:
        capture = row["capture"]
        size = f"{capture['bytes_per_allocation']:.2f}" if capture else "-"
        wall = "{:.3f} ({:.3f}-{:.3f})".format(*row["wall"])
        cpu = "{:.3f} ({:.3f}-{:.3f})".format(*row["cpu"])
        lines.append(f"| {row['workload']} | {row['configuration']} | {wall} | {cpu} | {size} |")
    lines.append("")
    lines.append("| configuration | geometric mean wall ratio | geometric mean CPU ratio |")
    lines.append("|---|---|---|")
    for name in configurations:
        if name == "python":
            continue
        mine = [row for row in rows if row["configuration"] == name]
        lines.append(f"| {name} | {geometric_mean([r['wall'][0] for r in mine]):.3f} | "
                     f"{geometric_mean([r['cpu'][0] for r in mine]):.3f} |")
    return "\n".join(lines)


def main(argv=None):
    arguments = parse_arguments(argv)
    configurations = arguments.configurations.split(",")
    if "python" not in configurations:
        configurations.insert(0, "python")
    unknown = [name for name in configurations if name not in CONFIGURATIONS]
    if unknown:
        raise SystemExit(f"unknown configuration(s): {', '.join(unknown)}")
    workloads = arguments.workloads.split(",")
    python = environment.python_path() if arguments.skip_install else \
        environment.ensure_environment()
    results = measure(workloads, configurations, arguments.runs, python)
    rows = summarise(results, configurations)
    print(f"Python {platform.python_version()}, {platform.machine()}, "
          f"{arguments.runs} runs per configuration\n")
    print(markdown_table(rows, configurations))
    if arguments.output:
        pathlib.Path(arguments.output).write_text(json.dumps(
            {"python": platform.python_version(), "runs": arguments.runs, "results": results,
             "summary": rows}, indent=2))


if __name__ == "__main__":
    main()
