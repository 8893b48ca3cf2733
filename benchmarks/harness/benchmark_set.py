"""The benchmark set the overhead, capture-size and instruction-count
benchmarks share: pyperformance's benchmarks, each run in-process for a
fixed number of loops, and memlyze's own workloads, all through the one
runner harness/pyperformance_runner.py (which also times them from inside).
Loops are calibrated to about 0.3-1 s of plain run time on the development
machine (re-check with `benchmarks/overhead.py --calibrate`).
"""

import pathlib

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent
RUNNER = BENCHMARKS / "harness" / "pyperformance_runner.py"
WORKLOADS = BENCHMARKS / "workloads"


class Benchmark:
    """One entry of the set. `arguments(scale)` gives the script's arguments
    with the amount of work multiplied by scale (at least one loop), so the
    smoke test can run a sliver of it. minimum_allocations: the fewest
    allocations a fully traced run must record to count as recorded at all
    (a profiler that silently failed to start records next to none; memray
    records only ~500-800 malloc-level allocations on float and richards,
    pure-Python benchmarks whose small objects come from pymalloc)."""

    def __init__(self, name, script, build_arguments, size, requires=(),
                 minimum_allocations=200):
        self.name = name
        self.script = script
        self.build_arguments = build_arguments
        self.size = size
        self.requires = tuple(requires)
        self.minimum_allocations = minimum_allocations

    def arguments(self, scale=1.0):
        return self.build_arguments(max(1, round(self.size * scale)))


def _pyperformance(name, loops, directory=None, options=(), requires=(),
                   minimum_allocations=200):
    directory = directory or f"bm_{name}"

    def build(size):
        return [str(size), directory, *options]
    return Benchmark(name, RUNNER, build, loops, requires=("pyperformance", *requires),
                     minimum_allocations=minimum_allocations)


def _workload(name, size, requires=(), minimum_allocations=200):
    script = WORKLOADS / f"{name}.py"
    return Benchmark(name, RUNNER, lambda size: [str(size), str(script)], size,
                     requires=requires, minimum_allocations=minimum_allocations)


BENCHMARK_SET = {benchmark.name: benchmark for benchmark in [
    _pyperformance("tornado_http", 3, requires=("tornado",)),
    _pyperformance("json_dumps", 35),
    _pyperformance("json_loads", 1000),
    _pyperformance("pickle", 2000, directory="bm_pickle", options=("pickle",)),
    _pyperformance("unpickle", 1300, directory="bm_pickle", options=("unpickle",)),
    _pyperformance("deltablue", 140),
    _pyperformance("richards", 12),
    _pyperformance("raytrace", 2),
    _pyperformance("chaos", 8),
    _pyperformance("go", 4),
    _pyperformance("float", 6),
    _pyperformance("nbody", 7),
    _pyperformance("regex_v8", 22),
    _pyperformance("logging", 3000),
    _pyperformance("sqlite_synth", 200000),
    _pyperformance("unpack_sequence", 40000),
    _pyperformance("spectral_norm", 6),
    _pyperformance("deepcopy", 1300),
    _workload("allocation_heavy", 2000),
    _workload("numpy_heavy", 20, requires=("numpy",)),
]}

# About eight benchmarks of different kinds for --quick: allocation-heavy,
# call-heavy, C-library-heavy, numeric.
QUICK = ["allocation_heavy", "numpy_heavy", "json_dumps", "unpickle", "deltablue", "raytrace",
         "regex_v8", "tornado_http"]
