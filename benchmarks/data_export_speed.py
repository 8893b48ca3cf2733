"""Time and peak memory of `memlyze export --format parquet` and `memlyze
query` on one big capture, side by side with `memlyze stats` on the same
file (issue 18).

Records a workload of N allocations (default 100 million: bytearray(600)
then del, in a loop, with one block in 64 kept until the end, so the heap
and the rows both grow), then runs, each as a child process whose wall
time and peak RSS (ru_maxrss from wait4) are taken:

    memlyze stats --json CAPTURE
    memlyze export CAPTURE --format parquet -o DIR
    memlyze query DIR "SELECT * FROM peak_by_location LIMIT 5"     (over the export)
    memlyze query CAPTURE "SELECT * FROM peak_by_location LIMIT 5" (export + query)

    python benchmarks/data_export_speed.py                        # 100M allocations
    python benchmarks/data_export_speed.py --allocations 1000000  # a quick look
    python benchmarks/data_export_speed.py --capture big.mlyze    # reuse a capture

Prints one line per command and the ratios to stats; --output writes them
as JSON too.
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

WORKLOAD = """
import sys

KEPT = []


def churn(count):
    for index in range(count):
        block = bytearray(600)
        if index % 64 == 0:
            KEPT.append(block)
        del block


churn(int(sys.argv[1]))
"""


def timed(command):
    """Runs command; returns (wall seconds, peak RSS bytes of the child)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    error = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed: {error.strip()}")
    return elapsed, usage.ru_maxrss * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allocations", type=int, default=100_000_000)
    parser.add_argument("--capture", help="an existing capture to measure instead")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter with memlyze[data] installed")
    parser.add_argument("--output", help="also write the figures to this JSON file")
    options = parser.parse_args()
    memlyze = [options.python, "-m", "memlyze"]
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="memlyze-data-bench-"))
    try:
        capture = options.capture
        if not capture:
            script = scratch / "workload.py"
            script.write_text(WORKLOAD)
            capture = str(scratch / "workload.mlyze")
            record_s, _ = timed([*memlyze, "run", "-o", capture, str(script),
                                 str(options.allocations)])
            print(f"recorded {options.allocations:,} allocations in {record_s:.1f} s", flush=True)
        size = os.path.getsize(capture)
        export_dir = scratch / "export"
        sql = "SELECT * FROM peak_by_location LIMIT 5"
        runs = [
            ("stats", [*memlyze, "stats", "--json", capture]),
            ("export parquet", [*memlyze, "export", capture, "--format", "parquet",
                                "-o", str(export_dir)]),
            ("query (Parquet dir)", [*memlyze, "query", str(export_dir), sql]),
            ("query (capture)", [*memlyze, "query", capture, sql]),
        ]
        results = {"capture_bytes": size, "allocations": options.allocations
                   if not options.capture else None, "runs": {}}
        for name, command in runs:
            seconds, rss = timed(command)
            results["runs"][name] = {"seconds": seconds, "peak_rss_bytes": rss}
            print(f"{name:<20} {seconds:8.2f} s  {rss / 2**20:9.1f} MiB", flush=True)
        parquet_bytes = sum(path.stat().st_size for path in export_dir.rglob("*.parquet"))
        results["parquet_bytes"] = parquet_bytes
        stats = results["runs"]["stats"]
        for name, run in results["runs"].items():
            run["time_ratio_to_stats"] = run["seconds"] / stats["seconds"]
            run["rss_ratio_to_stats"] = run["peak_rss_bytes"] / stats["peak_rss_bytes"]
        print(f"capture {size / 2**20:.1f} MiB, Parquet {parquet_bytes / 2**20:.1f} MiB")
        for name, run in results["runs"].items():
            print(f"{name:<20} time {run['time_ratio_to_stats']:6.2f}x stats, "
                  f"peak RSS {run['rss_ratio_to_stats']:6.2f}x stats")
        if options.output:
            pathlib.Path(options.output).write_text(json.dumps(results, indent=2) + "\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
