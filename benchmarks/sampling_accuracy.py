"""Do sampled estimates and their 95% intervals hold up against the truth?

Records benchmarks/workloads/sampling_ground_truth.py once in full (the
truth) and then many times with Poisson byte sampling, each run with its own
seed, and reports for the total, the peak and each of the workload's five
allocating functions (its top locations by total bytes) how often the reported 95% interval contained the truth, and the
mean relative error of the estimate. All runs trace the Python allocators
too, so every object of the workload, 16 B to 8 MiB, is seen.

    python benchmarks/sampling_accuracy.py --runs 200 --interval 512KiB

--coverage measures the intervals' coverage across sampling intervals and
size mixes instead: for each workload of benchmarks/workloads/
sampling_workloads.py (mixed sizes, blocks of 256 KiB and up only, small
objects only) and each interval, one full recording (the truth) and --runs
sampled ones with their own seeds, all in this process (memlyze.Tracker, so
hundreds of runs take minutes, not hours), reporting how often the total's
and the peak's 95% intervals held the truth:

    python benchmarks/sampling_accuracy.py --coverage --runs 200 \
        --intervals 16KiB,64KiB,512KiB,4MiB --output results.json
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


def record_in_process(directory, workload, python_allocators=True, **options):
    """The stats of one in-process recording of workload."""
    import memlyze
    from memlyze import _memlyze

    capture = str(pathlib.Path(directory) / "coverage.mlyze")
    kept = []
    with memlyze.Tracker(capture, force=True, rss_interval=0, track_gc=False,
                         python_allocators=python_allocators, **options):
        workload(kept)
        del kept
    stats = _memlyze.analyze_capture(capture, top=1)
    os.unlink(capture)
    return stats


def coverage_study(workload_name, interval, runs, first_seed=1):
    """{quantity: {"truth", "covered", "runs", "relative_errors"}} for the
    total and the peak of one workload at one sampling interval."""
    sys.path.insert(0, str(WORKLOAD.parent))
    from memlyze.byte_sizes import parse_byte_size
    from sampling_workloads import WORKLOADS

    workload = WORKLOADS[workload_name]
    # The large blocks come from malloc: without the Python allocators every
    # recorded allocation is one of them, as in the program of issue 14.
    python_allocators = workload_name != "large"
    with tempfile.TemporaryDirectory(prefix="memlyze-coverage-") as directory:
        truth = record_in_process(directory, workload, python_allocators)
        results = {name: {"truth": truth[f"{name}_bytes"], "covered": 0, "runs": 0,
                          "relative_errors": []} for name in ("total", "peak")}
        for run in range(runs):
            stats = record_in_process(directory, workload, python_allocators,
                                      seed=first_seed + run,
                                      sample_interval=parse_byte_size(interval))
            for name, result in results.items():
                covered, error = judge(result["truth"], stats[f"{name}_bytes"],
                                       stats[f"{name}_bytes_ci95"])
                result["covered"] += covered
                result["runs"] += 1
                result["relative_errors"].append(error)
    return results


def coverage_main(arguments):
    intervals = arguments.intervals.split(",")
    table = {}
    for workload in arguments.workloads.split(","):
        for interval in intervals:
            table[f"{workload} {interval}"] = coverage_study(workload, interval, arguments.runs)
            print(f"  {workload} at {interval} done", file=sys.stderr)
    print(f"{arguments.runs} seeded runs per workload and interval, in-process; "
          "--python-allocators except for large (its blocks come from malloc)\n")
    print("| workload | interval | total: coverage | total: mean abs. error | "
          "peak: coverage | peak: mean abs. error |")
    print("|---|---|---|---|---|---|")
    for key, results in table.items():
        workload, interval = key.split()
        cells = []
        for name in ("total", "peak"):
            result = results[name]
            errors = result["relative_errors"]
            cells += [f"{result['covered'] / result['runs']:.1%}",
                      f"{sum(abs(error) for error in errors) / len(errors):.3%}"]
        print(f"| {workload} | {interval} | " + " | ".join(cells) + " |")
    if arguments.output:
        pathlib.Path(arguments.output).write_text(json.dumps(table, indent=2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--interval", default="512KiB")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--coverage", action="store_true",
                        help="coverage per workload and interval (see above)")
    parser.add_argument("--intervals", default="16KiB,64KiB,512KiB,4MiB")
    parser.add_argument("--workloads", default="mixed,large,small")
    parser.add_argument("--output", help="write the results as JSON here")
    arguments = parser.parse_args()
    if arguments.coverage:
        sys.path.insert(0, str(WORKLOAD.parent))
        coverage_main(arguments)
        return
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
