"""What memlyze.tracemalloc costs beside the standard tracemalloc, run side
by side on one workload.

The workload makes and drops small objects 30 frames down (lists, tuples,
floats and dicts, which CPython takes from free lists, and bytes, which it
allocates), so both of what tracemalloc does on each object counts: the
traceback of a cut stack with its total frame count, and following objects
reused from free lists (from 3.13 on memlyze does that too, through
PyRefTracer). Each configuration runs in a fresh process, ROUNDS times, in
turns; the best CPU time of each is kept and given as a ratio to the
untraced run and, for memlyze, to the standard module at the same nframe.
With --baseline PYTHON (an interpreter with another memlyze installed, such
as the main branch's) that memlyze runs in the same turns, and each of ours
is also given as a ratio to it.

    python benchmarks/tracemalloc_cost.py [--rounds 5] [--baseline OTHER/bin/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

WORKLOAD = r'''
import sys, time
which, nframe = sys.argv[1], int(sys.argv[2])

def work(depth):
    if depth:
        return work(depth - 1)
    kept = 0
    for index in range(200_000):
        items = [index, index]
        pair = (index, items)
        number = index * 0.5
        table = {"key": number}
        data = bytes(64 + index % 64)
        kept += len(pair) + len(table) + len(data)
    return kept

if which == "standard":
    import tracemalloc as module
elif which == "memlyze":
    from memlyze import tracemalloc as module
else:
    module = None
started = time.process_time()
if module:
    module.start(nframe)
work(30)
if module:
    module.take_snapshot()
    module.stop()
print(time.process_time() - started)
'''

NFRAMES = (1, 25)


def run_once(python: str, which: str, nframe: int) -> float:
    result = subprocess.run([python, "-c", WORKLOAD, which, str(nframe)],
                            capture_output=True, text=True, check=True)
    return float(result.stdout)


def configurations(baseline: "str | None") -> list:
    """(label, interpreter, module, nframe) of each run."""
    found = [("none", sys.executable, "none", 1)]
    for nframe in NFRAMES:
        found.append(("standard", sys.executable, "standard", nframe))
        found.append(("memlyze", sys.executable, "memlyze", nframe))
        if baseline:
            found.append(("memlyze-baseline", baseline, "memlyze", nframe))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", help="an interpreter with the baseline memlyze installed")
    arguments = parser.parse_args()
    runs = configurations(arguments.baseline)
    best = {run: float("inf") for run in runs}
    for _ in range(arguments.rounds):
        for run in runs:
            best[run] = min(best[run], run_once(*run[1:]))
    seconds_of = {(label, nframe): seconds for (label, _, _, nframe), seconds in best.items()}
    untraced = seconds_of[("none", 1)]
    print(f"Python {sys.version.split()[0]}, best of {arguments.rounds} rounds (CPU seconds)")
    for (label, nframe), seconds in seconds_of.items():
        row = {"run": label, "nframe": nframe, "cpu_seconds": round(seconds, 3),
               "vs_untraced": round(seconds / untraced, 2)}
        if label == "memlyze":
            row["vs_standard"] = round(seconds / seconds_of[("standard", nframe)], 2)
            if ("memlyze-baseline", nframe) in seconds_of:
                row["vs_baseline"] = round(seconds / seconds_of[("memlyze-baseline", nframe)], 2)
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
