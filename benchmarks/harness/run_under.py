"""Runs a script under an in-process profiler that has no command of its
own, the way a user would switch it on at start-up:

    python run_under.py mprofile 131072 SCRIPT [ARGS...]
    python run_under.py memlyze-interval 524288 SCRIPT [ARGS...]

mprofile starts with that byte interval before the script runs and takes a
snapshot after it (so that its bookkeeping is really exercised), printing
the number of sampled traces to stderr for the harness to check.
memlyze-interval (and memlyze-interval-python-allocators) starts a
memlyze.Tracker with that sample interval in the process, without the
command-line start-up of `memlyze run`: the tracker's own cost alone.

    python -X tracemalloc=1 run_under.py tracemalloc-report 0 SCRIPT [ARGS...]
    python run_under.py pymemtrace-profile -1 SCRIPT [ARGS...]
    python run_under.py memlyze-cpymemtrace-profile -1 SCRIPT [ARGS...]
    python run_under.py memlyze-cpymemtrace-trace -1 SCRIPT [ARGS...]

tracemalloc-report runs the script as it is (tracing was started by -X
tracemalloc) and reports the peak of traced memory; the RSS tracers run the
script inside a Profile/Trace context with that d_rss_trigger, logging into
a temporary file whose lines they count.

Every profiler prints one line `run_under recorded: N <what>` to stderr,
from which the harness checks that it really recorded something.
"""

import runpy
import sys


def main():
    profiler, setting, script, *arguments = sys.argv[1:]
    sys.argv = [script, *arguments]
    if profiler == "none":  # the wrapper alone: the baseline of in-process runs
        runpy.run_path(script, run_name="__main__")
        return
    if profiler.startswith("memlyze-interval"):
        run_under_memlyze(int(setting), profiler.endswith("python-allocators"), script)
        return
    if profiler == "tracemalloc-report":
        run_reporting_tracemalloc(script)
        return
    if profiler in RSS_TRACERS:
        run_under_rss_tracer(profiler, int(setting), script)
        return
    if profiler != "mprofile":
        raise SystemExit(f"unknown profiler {profiler!r}")
    import mprofile

    mprofile.start(sample_rate=int(setting))
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        snapshot = mprofile.take_snapshot()
        mprofile.stop()
        print(f"mprofile traces: {len(snapshot.traces)}", file=sys.stderr)
        print(f"run_under recorded: {len(snapshot.traces)} mprofile traces", file=sys.stderr)


def run_reporting_tracemalloc(script):
    import tracemalloc

    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        peak = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else 0
        print(f"run_under recorded: {peak} bytes traced at the peak by tracemalloc",
              file=sys.stderr)


RSS_TRACERS = {
    "pymemtrace-profile": ("pymemtrace.cPyMemTrace", "Profile"),
    "memlyze-cpymemtrace-profile": ("memlyze.cpymemtrace", "Profile"),
    "memlyze-cpymemtrace-trace": ("memlyze.cpymemtrace", "Trace"),
}


def run_under_rss_tracer(profiler, trigger, script):
    import importlib
    import os
    import tempfile

    module_name, class_name = RSS_TRACERS[profiler]
    tracer = getattr(importlib.import_module(module_name), class_name)
    directory = tempfile.mkdtemp(prefix="memlyze-run-under-")
    log = os.path.join(directory, "trace.log")
    try:
        with tracer(d_rss_trigger=trigger, filepath=log):
            runpy.run_path(script, run_name="__main__")
    finally:
        lines = 0
        if os.path.exists(log):
            with open(log, "rb") as file:
                lines = sum(1 for _ in file)
            os.unlink(log)
        os.rmdir(directory)
        print(f"run_under recorded: {lines} log lines of {module_name}.{class_name}",
              file=sys.stderr)


def run_under_memlyze(interval, python_allocators, script):
    import os
    import tempfile

    import memlyze

    capture = os.path.join(tempfile.mkdtemp(prefix="memlyze-run-under-"), "capture.mlyze")
    with memlyze.Tracker(capture, sample_interval=interval,
                         python_allocators=python_allocators):
        runpy.run_path(script, run_name="__main__")
    print(f"memlyze capture: {os.path.getsize(capture)} bytes", file=sys.stderr)
    print(f"run_under recorded: {os.path.getsize(capture)} capture bytes", file=sys.stderr)
    os.unlink(capture)
    os.rmdir(os.path.dirname(capture))


if __name__ == "__main__":
    main()
