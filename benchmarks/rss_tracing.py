"""memlyze.cpymemtrace against pymemtrace's cPyMemTrace, side by side in one run.

One call-heavy workload (benchmarks/workloads/json_transform.py: a recursive
transformation of a few MB of JSON into objects and back) runs under each
configuration, alternating configurations run by run; each run is a fresh
process and times only the block inside the configuration's context. Reports
the median slowdown against plain Python, the overhead (slowdown - 1) as a
fraction of pymemtrace's, the log size; then the cost of one rss() call for
memlyze, pymemtrace and psutil, measured alternately in one process.

Everything runs in the benchmark environment benchmarks/.venv-bench
(created if missing), with memlyze installed from this checkout (or
--memlyze-source) and pymemtrace and psutil from PyPI.

    python benchmarks/rss_tracing.py --runs 5
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import environment  # noqa: E402
from harness.statistics import median  # noqa: E402

WORKLOAD = pathlib.Path(__file__).resolve().parent / "workloads" / "json_transform.py"
PYMEMTRACE_NOTE = environment.ENVIRONMENT / "pymemtrace-install-note.txt"
CONFIGURATIONS = [
    "python",
    "null_hook",
    "pymemtrace_profile",
    "pymemtrace_trace",
    "memlyze_profile",
    "memlyze_trace",
    "memlyze_profile_every_event",
    "memlyze_reference_one_class",
    "memlyze_reference_all_types",
]
DESCRIPTIONS = {
    "python": "plain Python",
    "null_hook": "C profile hook doing nothing (floor)",
    "pymemtrace_profile": "pymemtrace Profile(d_rss_trigger=-1)",
    "pymemtrace_trace": "pymemtrace Trace(d_rss_trigger=-1)",
    "memlyze_profile": "memlyze Profile(d_rss_trigger=-1)",
    "memlyze_trace": "memlyze Trace(d_rss_trigger=-1)",
    "memlyze_profile_every_event": "memlyze Profile(d_rss_trigger=0)",
    "memlyze_reference_one_class": "memlyze ReferenceTracing(one class)",
    "memlyze_reference_all_types": "memlyze ReferenceTracing(all non-builtin)",
}
# Werror flags pymemtrace 0.6.3's build trips over with GCC 12 on 3.11.
PYMEMTRACE_CFLAGS = ("-Wno-error=unused-variable -Wno-error=use-after-free "
                     "-Wno-error=unused-function -Wno-error=unused-parameter "
                     "-Wno-error=dangling-pointer")

RSS_TIMING = r"""
import json, timeit
import memlyze, psutil
functions = {"memlyze": memlyze.rss}
try:
    from pymemtrace import cPyMemTrace
    functions["pymemtrace"] = cPyMemTrace.rss
except ImportError:
    pass
process = psutil.Process()
functions["psutil"] = lambda: process.memory_info().rss
numbers = {"memlyze": 20000, "pymemtrace": 20000, "psutil": 2000}
results = {name: [] for name in functions}
for _ in range(7):
    for name, function in functions.items():
        best = min(timeit.repeat(function, number=numbers[name], repeat=3))
        results[name].append(best / numbers[name] * 1e6)
print(json.dumps(results))
"""


def pip(*arguments, env=None):
    command = [str(environment.python_path()), "-m", "pip", "install", "--quiet",
               "--disable-pip-version-check", *arguments]
    return subprocess.run(command, env=env, capture_output=True, text=True)


def prepare_environment(memlyze_source, skip_install):
    """Creates the environment, installs memlyze and the peers; returns a
    note on how pymemtrace was installed (or why not)."""
    if not environment.python_path().exists():
        subprocess.run([sys.executable, "-m", "venv", str(environment.ENVIRONMENT)], check=True)
    if skip_install:
        return "pymemtrace: environment reused as it is"
    installed = pip("meson", "meson-python", "ninja", "psutil")
    if installed.returncode:
        sys.exit(f"cannot install the build tools:\n{installed.stderr}")
    build_env = dict(os.environ, PATH=f"{environment.python_path().parent}:{os.environ['PATH']}")
    installed = pip("--force-reinstall", "--no-deps", "--no-build-isolation", str(memlyze_source),
                    env=build_env)
    if installed.returncode:
        sys.exit(f"cannot install memlyze from {memlyze_source}:\n{installed.stderr[-3000:]}")
    if have_pymemtrace() and PYMEMTRACE_NOTE.exists():
        return PYMEMTRACE_NOTE.read_text().strip() + " (installed by an earlier run)"
    plain = pip("--no-cache-dir", "--force-reinstall", "--no-deps", "pymemtrace")
    if plain.returncode == 0:
        note = "pymemtrace: installed from PyPI as it is"
    else:
        compiler_errors = [line.strip() for line in plain.stderr.splitlines()
                           if "[-Werror" in line or "error: " in line and ".c:" in line]
        last_error = "; ".join(dict.fromkeys(compiler_errors)) or "see pip's output"
        relaxed = pip("--no-cache-dir", "--force-reinstall", "--no-deps", "pymemtrace",
                      env=dict(os.environ, CFLAGS=PYMEMTRACE_CFLAGS))
        if relaxed.returncode:
            return f"pymemtrace: could not be installed on this Python ({last_error}); left out"
        note = ("pymemtrace: its sdist FAILS to build on this Python 3.11 / GCC as published "
                f"(-Werror: {last_error}); installed with CFLAGS='{PYMEMTRACE_CFLAGS}'")
    PYMEMTRACE_NOTE.write_text(note + "\n")
    return note


def run_once(configuration, records):
    with tempfile.TemporaryDirectory(prefix="rss-bench-") as directory:
        result = subprocess.run([str(environment.python_path()), str(WORKLOAD), configuration,
                                 directory, str(records)], capture_output=True, text=True,
                                env=environment.environment_variables(), timeout=1800)
        if result.returncode:
            raise RuntimeError(f"{configuration} failed:\n{result.stderr[-2000:]}")
        return json.loads(result.stdout.splitlines()[-1])


def have_pymemtrace():
    probe = subprocess.run([str(environment.python_path()), "-c", "import pymemtrace.cPyMemTrace"],
                           capture_output=True)
    return probe.returncode == 0


def measure_workload(configurations, runs, records):
    results = {name: [] for name in configurations}
    for run in range(runs):
        for name in configurations:
            results[name].append(run_once(name, records))
        print(f"  run {run + 1}/{runs} done", file=sys.stderr, flush=True)
    return results


def print_workload_table(results, records_info):
    base = median([result["seconds"] for result in results["python"]])
    print(f"\nWorkload: json_transform, {records_info['input_bytes'] / 1e6:.1f} MB of JSON; "
          f"plain Python median {base:.3f} s")
    print(f"{'configuration':44} {'median s':>9} {'slowdown':>9} {'overhead':>9} "
          f"{'vs pymemtrace':>14} {'log bytes':>12}")
    slowdowns = {}
    for name, runs in results.items():
        slowdowns[name] = median([result["seconds"] for result in runs]) / base
    reference = {"memlyze_profile": "pymemtrace_profile", "memlyze_trace": "pymemtrace_trace",
                 "memlyze_profile_every_event": "pymemtrace_profile"}
    for name, runs in results.items():
        seconds = median([result["seconds"] for result in runs])
        relative = ""
        peer = reference.get(name)
        if peer in slowdowns and slowdowns[peer] > 1:
            relative = f"{(slowdowns[name] - 1) / (slowdowns[peer] - 1):.2f}x"
        print(f"{DESCRIPTIONS[name]:44} {seconds:9.3f} {slowdowns[name]:8.2f}x "
              f"{slowdowns[name] - 1:8.2f} {relative:>14} {int(median([r['log_bytes'] for r in runs])):12,}")
    return slowdowns


def print_targets(slowdowns):
    print("\nTargets:")

    def verdict(ok):
        return "MET" if ok else "MISSED"

    for ours, peer in (("memlyze_profile", "pymemtrace_profile"),
                       ("memlyze_trace", "pymemtrace_trace")):
        if peer in slowdowns:
            share = (slowdowns[ours] - 1) / (slowdowns[peer] - 1)
            print(f"  {DESCRIPTIONS[ours]} overhead <= 1/3 of pymemtrace's: {share:.2f} "
                  f"{verdict(share <= 1 / 3)}")
    one, every = slowdowns["memlyze_reference_one_class"], slowdowns["memlyze_reference_all_types"]
    print(f"  ReferenceTracing(one class) <= 1.5x: {one:.2f}x {verdict(one <= 1.5)}")
    print(f"  ReferenceTracing(all non-builtin types) <= 12x: {every:.2f}x {verdict(every <= 12)}")


def measure_rss_calls():
    result = subprocess.run([str(environment.python_path()), "-c", RSS_TIMING],
                            capture_output=True, text=True, env=environment.environment_variables())
    if result.returncode:
        raise RuntimeError(result.stderr)
    timings = json.loads(result.stdout)
    print("\nrss() per call (best of 3 x 7 alternating rounds; median of the rounds):")
    medians = {name: median(values) for name, values in timings.items()}
    for name, value in medians.items():
        print(f"  {name:11} {value:7.3f} us  (best {min(timings[name]):.3f} us)")
    if "pymemtrace" in medians:
        share = medians["memlyze"] / medians["pymemtrace"]
        print(f"  memlyze / pymemtrace = {share:.2f} "
              f"({'MET' if share <= 0.25 else 'MISSED'} target <= 1/4)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per configuration (default 5)")
    parser.add_argument("--records", type=int, default=6000,
                        help="JSON records of the workload (default 6000, about 1.8 MB)")
    parser.add_argument("--memlyze-source", default=str(environment.REPOSITORY),
                        help="the memlyze source tree to install (default: this checkout)")
    parser.add_argument("--skip-install", action="store_true",
                        help="reuse the benchmark environment as it is")
    options = parser.parse_args(argv)
    note = prepare_environment(options.memlyze_source, options.skip_install)
    print(note)
    configurations = list(CONFIGURATIONS)
    if not have_pymemtrace():
        configurations = [name for name in configurations if not name.startswith("pymemtrace")]
        print("pymemtrace is not importable: its rows are left out")
    results = measure_workload(configurations, options.runs, options.records)
    slowdowns = print_workload_table(results, results["python"][0])
    print_targets(slowdowns)
    measure_rss_calls()


if __name__ == "__main__":
    main()
