"""Attach latency: how long `memlyze attach PID -o FILE` takes, against gdb's
bare attach and detach of the same process as the baseline, in one run.

A target process (started without memlyze) allocates in a loop (a 100 KB
bytearray, then a 1 ms sleep). Each round, in turn:
  - baseline: `gdb -batch -p PID -ex detach` with the options memlyze's
    injector gives gdb (no auto-loading, no symbols but libc's and
    libpython's: what attaching itself costs);
  - attach: `memlyze attach PID -o FILE`, timed to its return (the tracker
    runs then) and to the tracker's start (the capture header's start time,
    wall clock: the allocating target's first recorded allocation follows
    within a loop iteration, ~1 ms);
  - detach: `memlyze detach PID`, timed to its return (the capture is complete).
Reports medians of N rounds and their ratios to the baseline's median.

    .venv/bin/python benchmarks/attach_latency.py --runs 10 [--json OUT]

Runs with the interpreter that runs it, which must have memlyze installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from statistics import median

TARGET = """
import os
import sys
import time

print("running", flush=True)
while not os.path.exists(sys.argv[1]):
    block = bytearray(100_000)
    del block
    time.sleep(0.001)
"""

GDB = ["gdb", "-batch", "-nx", "-nw", "-q", "-iex", "set auto-load off",
       "-iex", "set debuginfod enabled off", "-iex", "set auto-solib-add off"]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return time.perf_counter() - start


def attach_round(pid: int, capture: str) -> tuple[float, float, float]:
    """(seconds to attach's return, to the tracker's start, to detach's return)."""
    import memlyze

    memlyze_command = [sys.executable, "-m", "memlyze"]
    wall_start = time.time_ns()
    to_return = timed([*memlyze_command, "attach", str(pid), "-o", capture, "-f"])
    to_detach = timed([*memlyze_command, "detach", str(pid)])
    with memlyze.FileReader(capture) as reader:
        started = reader.metadata["start_time_ns"]
    return to_return, (started - wall_start) / 1e9, to_detach


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", help="write the figures here too")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="attach-latency-") as directory:
        stop = os.path.join(directory, "stop")
        target = subprocess.Popen([sys.executable, "-c", TARGET, stop], stdout=subprocess.PIPE,
                                  text=True)
        assert target.stdout.readline() == "running\n"
        capture = os.path.join(directory, "capture.mlyze")
        rows = {"gdb_attach_detach": [], "attach_return": [], "attach_tracking": [],
                "detach_return": []}
        try:
            for _ in range(options.runs):
                rows["gdb_attach_detach"].append(timed([*GDB, "-p", str(target.pid),
                                                        "-ex", "detach"]))
                to_return, to_tracking, to_detach = attach_round(target.pid, capture)
                rows["attach_return"].append(to_return)
                rows["attach_tracking"].append(to_tracking)
                rows["detach_return"].append(to_detach)
        finally:
            open(stop, "w").close()
            target.wait(timeout=60)
    baseline = median(rows["gdb_attach_detach"])
    result = {
        "python": platform.python_version(),
        "runs": options.runs,
        "load_average": os.getloadavg(),
        "medians_s": {name: median(values) for name, values in rows.items()},
        "ratios_to_gdb": {name: median(values) / baseline for name, values in rows.items()},
        "all_s": rows,
    }
    print(f"attach latency, CPython {result['python']}, {options.runs} rounds, "
          f"load {result['load_average'][0]:.1f}")
    print(f"{'':<22}{'median':>10}{'× gdb':>8}")
    for name in rows:
        print(f"{name:<22}{result['medians_s'][name] * 1000:>8.0f} ms"
              f"{result['ratios_to_gdb'][name]:>8.2f}")
    if options.json:
        with open(options.json, "w") as out:
            json.dump(result, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
