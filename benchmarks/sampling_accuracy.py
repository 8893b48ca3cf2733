"""Do sampled estimates and their 95% intervals hold up against the truth?

Records benchmarks/workloads/sampling_ground_truth.py once in full (the
truth) and then many times with Poisson byte sampling, each run with its own
seed, and reports for the total, the peak and each of the workload's five
allocating functions (its top locations by total bytes) how often the reported 95% interval contained the truth, and the
mean relative error of the estimate. All runs trace the Python allocators
too, so every object of the workload, 16 B to 8 MiB, is seen.

    python benchmarks/sampling_accuracy.py --runs 200 --interval 512KiB
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

WORKLOAD_FUNCTIONS = ("tiny_objects", "small_objects", "medium_objects", "large_objects",
                      "mixed_objects")
WORKLOAD = pathlib.Path(__file__).resolve().parent / "workloads" / "sampling_ground_truth.py"


def record(directory, name, workload_arguments, options, seed=None):
    capture = pathlib.Path(directory) / f"{name}.mlyze"
    environment = dict(os.environ, PYTHONHASHSEED="0")
    if seed is not None:
        environment["MEMLYZE_SEED"] = str(seed)
    subprocess.run([sys.executable, "-m", "memlyze", "run", "-f", "-o", str(capture),
                    "--python-allocators", *options, str(WORKLOAD), *workload_arguments],
                   check=True, env=environment, stdout=subprocess.DEVNULL)
    from memlyze import _memlyze

    stats = _memlyze.analyze_capture(str(capture), top=200)
    capture.unlink()
    return stats


def location_key(entry):
    return entry["function"], entry["file"], entry["line"]


def judge(truth, estimate, interval):
    low, high = interval
    return low <= truth <= high, (estimate - truth) / truth


def run_study(runs, interval, scale, first_seed=1, progress=True):
    """Returns {quantity: {"covered": k, "runs": n, "relative_errors": [...]}}."""
    arguments = [str(scale)]
    results = {}
    with tempfile.TemporaryDirectory(prefix="memlyze-accuracy-") as directory:
        truth = record(directory, "truth", arguments, [])
        top = {}
        for function in WORKLOAD_FUNCTIONS:  # each one's allocating line
            entries = [entry for entry in truth["top_by_total"] if entry["function"] == function]
            largest = max(entries, key=lambda entry: entry["bytes"])
            top[location_key(largest)] = largest["bytes"]
        quantities = {"total": truth["total_bytes"], "peak": truth["peak_bytes"]}
        quantities.update({f"{key[0]}:{key[2]}": value for key, value in top.items()})
        results = {name: {"truth": value, "covered": 0, "runs": 0, "relative_errors": []}
                   for name, value in quantities.items()}
        for run in range(runs):
            stats = record(directory, "sampled", arguments, ["--sample-interval", interval],
                           seed=first_seed + run)
            observed = {"total": (stats["total_bytes"], stats["total_bytes_ci95"]),
                        "peak": (stats["peak_bytes"], stats["peak_bytes_ci95"])}
            by_location = {location_key(entry): entry for entry in stats["top_by_total"]}
            for key in top:
                entry = by_location.get(key)
                observed[f"{key[0]}:{key[2]}"] = (
                    (entry["bytes"], entry["bytes_ci95"]) if entry else (0, [0, 0]))
            for name, (estimate, ci) in observed.items():
                covered, error = judge(results[name]["truth"], estimate, ci)
                results[name]["covered"] += covered
                results[name]["runs"] += 1
                results[name]["relative_errors"].append(error)
            if progress:
                print(f"  run {run + 1}/{runs}", file=sys.stderr)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--interval", default="512KiB")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--output", help="write the results as JSON here")
    arguments = parser.parse_args()
    results = run_study(arguments.runs, arguments.interval, arguments.scale)
    print(f"{arguments.runs} seeded runs, --sample-interval {arguments.interval}, "
          f"scale {arguments.scale}\n")
    print("| quantity | truth (bytes) | 95% interval coverage | mean relative error | "
          "mean absolute relative error |")
    print("|---|---|---|---|---|")
    for name, result in results.items():
        errors = result["relative_errors"]
        print(f"| {name} | {result['truth']:,} | {result['covered'] / result['runs']:.1%} | "
              f"{sum(errors) / len(errors):+.2%} | "
              f"{sum(abs(error) for error in errors) / len(errors):.2%} |")
    if arguments.output:
        pathlib.Path(arguments.output).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
