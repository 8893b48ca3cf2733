"""The one runner every benchmark goes through. Runs one pyperformance
benchmark a fixed number of loops, or one of memlyze's workload scripts,
INSIDE this process, so that a profiler wrapping this process (`memlyze
run`, `memray run`, `-X tracemalloc`, run_under.py) sees all of its work:

    python pyperformance_runner.py LOOPS bm_json_dumps [BENCHMARK ARGS...]
    python pyperformance_runner.py SIZE path/to/workload.py [ARGS...]

(a workload script gets SIZE as its first argument).

Like pyperf, it times the benchmark from inside the process and prints

    runner timing: wall=SECONDS cpu=SECONDS

to stderr: wall from time.perf_counter, CPU from time.process_time (every
thread of the process, so a profiler's writer thread counts), from the start
of the benchmark script to its end. Interpreter start-up, a profiler's own
start and its final flush at exit are outside that window; the harness
times the whole process as well.

pyperf's Runner would spawn worker processes, which escape the profiler. So
before the benchmark's run_benchmark.py is executed as __main__, a stub
`pyperf` module is put in sys.modules whose Runner calls the benchmark
function directly: bench_func(name, f, *args) calls f(*args) LOOPS times,
bench_time_func(name, f, *args) calls f(LOOPS, *args) once (pyperformance's
time functions loop themselves). A script that registers several benchmarks
(bm_logging: silent, simple, format) has each run LOOPS times. The
benchmark directory is found in the installed `pyperformance` package
(pyperformance/data-files/benchmarks/), or under --benchmarks-directory.
"""

import argparse
import importlib.util
import pathlib
import platform
import runpy
import sys
import time
import types


def benchmarks_directory():
    """pyperformance's benchmarks, found without importing the package (its
    import would add to every run's time)."""
    spec = importlib.util.find_spec("pyperformance")
    if spec is None:
        raise SystemExit("pyperformance is not installed in this interpreter")
    return pathlib.Path(spec.origin).resolve().parent / "data-files" / "benchmarks"


class Runner:
    """pyperf.Runner's surface used by pyperformance's benchmarks, running
    everything in-process; LOOPS is set by main() before the script runs."""

    loops = 1
    calls = 0  # benchmark functions run, checked by main()

    def __init__(self, *args, **kwargs):
        self.argparser = argparse.ArgumentParser()
        self.metadata = {}
        self.args = None

    def parse_args(self, args=None):
        self.args = self.argparser.parse_args(args)
        return self.args

    def _arguments(self):
        if self.args is None:
            self.parse_args()

    def bench_func(self, name, function, *args, inner_loops=None, metadata=None):
        self._arguments()
        for _ in range(Runner.loops):
            function(*args)
        Runner.calls += 1

    def bench_time_func(self, name, function, *args, inner_loops=None, metadata=None):
        self._arguments()
        function(Runner.loops, *args)
        Runner.calls += 1

    def bench_async_func(self, name, function, *args, inner_loops=None, metadata=None):
        import asyncio  # here: its import would add to every other benchmark's time

        self._arguments()
        for _ in range(Runner.loops):
            asyncio.run(function(*args))
        Runner.calls += 1

    def bench_command(self, name, command):
        raise SystemExit(f"{name}: bench_command spawns a process; not run in-process")


def stub_pyperf():
    module = types.ModuleType("pyperf")
    module.Runner = Runner
    module.perf_counter = time.perf_counter
    module.python_implementation = lambda: platform.python_implementation().lower()
    module.__file__ = __file__
    return module


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmarks-directory", type=pathlib.Path, default=None)
    parser.add_argument("loops", type=int)
    parser.add_argument("benchmark", help="directory name, e.g. bm_json_dumps, or a .py "
                                          "workload script")
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    is_workload_script = options.benchmark.endswith(".py")
    if is_workload_script:
        script = pathlib.Path(options.benchmark)
        arguments = [str(options.loops), *options.arguments]
    else:
        directory = (options.benchmarks_directory or benchmarks_directory()) / options.benchmark
        script = directory / "run_benchmark.py"
        arguments = options.arguments
        Runner.loops = options.loops
        sys.modules["pyperf"] = stub_pyperf()
    if not script.exists():
        raise SystemExit(f"no benchmark script {script}")
    sys.argv = [str(script), *arguments]
    sys.path.insert(0, str(script.parent))
    wall_started, cpu_started = time.perf_counter(), time.process_time()
    runpy.run_path(str(script), run_name="__main__")
    wall, cpu = time.perf_counter() - wall_started, time.process_time() - cpu_started
    print(f"runner timing: wall={wall:.6f} cpu={cpu:.6f}", file=sys.stderr)
    if not is_workload_script and Runner.calls == 0:
        raise SystemExit(f"{options.benchmark}: no benchmark function was run")


if __name__ == "__main__":
    main()
