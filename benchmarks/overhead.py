"""How much slower programs run under memlyze and its peers.

Runs each benchmark of the set (pyperformance's benchmarks, run in-process
by harness/pyperformance_runner.py so that the profiler sees their work, and
memlyze's own workloads) under each configuration, alternating
configurations run by run so that machine drift hits all alike, and reports
per benchmark the median wall-time and CPU-time ratio to plain Python with
a bootstrap 95% interval, the geometric mean per configuration, and capture
bytes per recorded allocation, as a Markdown table, a PNG chart and raw
JSON. Each ratio is given twice: for the workload, timed from inside the
process by the shared runner as pyperf does (interpreter start-up, the
profiler's own start and its final flush are outside it), and for the whole
process, timed from outside (start-up included: what a short script pays).
Every profiled run is checked to have recorded something plausible (a
capture with enough allocations, or the count run_under.py prints); a run
that did not is rejected and shown as such. A rejected memlyze or baseline
run makes the exit status 1; a peer profiler that crashes or fails is
reported, not counted, and does not.

    python benchmarks/overhead.py --quick                 # ~8 benchmarks, main configurations
    python benchmarks/overhead.py                         # everything, more runs
    python benchmarks/overhead.py --runs 7 --configurations python,memlyze,memray \\
        --benchmarks json_dumps,allocation_heavy --output-prefix /tmp/overhead
    python benchmarks/overhead.py --python "$(which python)" --no-install \\
        --configurations python,memlyze --benchmarks allocation_heavy --runs 1 --scale 0.1
    python benchmarks/overhead.py --calibrate             # plain run time of each benchmark
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import random
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import environment  # noqa: E402
from harness.benchmark_set import BENCHMARK_SET, QUICK as QUICK_BENCHMARKS  # noqa: E402
from harness.configurations import (CONFIGURATIONS, FULL, QUICK,  # noqa: E402
                                    capture_path, recorded_from_stderr, runner_timing)
from harness.statistics import bootstrap_ratio_interval, geometric_mean, median  # noqa: E402
from harness.timing import run_measured_with_stderr  # noqa: E402

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent

# What each run's times are ratios of: (key, title). The workload measures
# come first: they are the headline, as on pyperformance-based pages.
MEASURES = [("workload_wall", "workload wall time (timed inside the process)"),
            ("workload_cpu", "workload CPU time (timed inside the process, all threads)"),
            ("wall", "whole-process wall time (start-up and exit included)"),
            ("cpu", "whole-process CPU time (user + system, start-up and exit included)")]
MEASURE_KEYS = [key for key, _ in MEASURES]
SHORT_TITLES = {"workload_wall": "workload wall", "workload_cpu": "workload CPU",
                "wall": "process wall", "cpu": "process CPU"}


class RecordingError(Exception):
    """A profiled run that recorded nothing plausible (or failed)."""


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--quick", action="store_true",
                        help=f"benchmarks {','.join(QUICK_BENCHMARKS)}; configurations "
                             f"{','.join(QUICK)}; 7 runs (under 20 minutes on 2 cores)")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per benchmark and configuration (default 11, --quick 7)")
    parser.add_argument("--configurations", default=None,
                        help=f"comma-separated; known: {','.join(CONFIGURATIONS)}")
    parser.add_argument("--benchmarks", "--workloads", dest="benchmarks", default=None,
                        help=f"comma-separated; known: {','.join(BENCHMARK_SET)}")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply each benchmark's amount of work (smoke runs: 0.1)")
    parser.add_argument("--output", default=None, help="write raw results as JSON here")
    parser.add_argument("--output-prefix", default=None,
                        help="write PREFIX.md, PREFIX.png and PREFIX.json")
    parser.add_argument("--skip-install", action="store_true",
                        help="reuse the benchmark environment as it is")
    parser.add_argument("--python", default=None,
                        help="benchmark this interpreter instead of the benchmark environment's")
    parser.add_argument("--no-install", action="store_true",
                        help="install nothing (with --python: configurations whose profiler "
                             "does not import there are skipped, each with its reason)")
    parser.add_argument("--chart-from", nargs=2, metavar=("JSON", "PNG"),
                        help="only draw the chart of an earlier run's JSON")
    parser.add_argument("--report-from", metavar="JSON",
                        help="only print the Markdown report of an earlier run's JSON")
    parser.add_argument("--calibrate", action="store_true",
                        help="only time each benchmark under plain Python, 3 runs")
    return parser.parse_args(argv)


def choose_interpreter(arguments):
    if arguments.python:
        python = pathlib.Path(arguments.python)
        if not arguments.no_install:
            print("note: --python given without --no-install; nothing is installed into it",
                  file=sys.stderr)
        return python
    if arguments.skip_install or arguments.no_install:
        return environment.python_path()
    python = environment.ensure_environment()
    reason = environment.ensure_pymemtrace()
    if reason:
        print(f"pymemtrace could not be installed: {reason}", file=sys.stderr)
    return python


def available_configurations(names, python):
    """Splits names into those that can run with python and {name: reason}."""
    runnable, skipped = [], {}
    for name in names:
        reason = CONFIGURATIONS[name].unavailable(python)
        if reason:
            skipped[name] = reason
        else:
            runnable.append(name)
    return runnable, skipped


def missing_modules(python, modules):
    """The modules python cannot import."""
    return [module for module in modules
            if subprocess.run([str(python), "-c", f"import {module}"],
                              capture_output=True).returncode != 0]


def available_benchmarks(names, python):
    runnable, skipped = [], {}
    for name in names:
        missing = missing_modules(python, BENCHMARK_SET[name].requires)
        if missing:
            skipped[name] = f"needs {', '.join(missing)}, not importable in {python}"
        else:
            runnable.append(name)
    return runnable, skipped


def check_recorded(configuration, python, capture, stderr, minimum, count=True):
    """Returns what the run recorded ({"allocations"/"recorded", "bytes",
    "bytes_per_allocation"}) or None for an unchecked configuration; raises
    RecordingError when the run recorded nothing plausible. Sampled
    configurations need one record; the others `minimum`. count=False only
    checks that a capture exists (counting is the slow part)."""
    if configuration.sampled:
        minimum = 1
    if configuration.stderr_recorded:
        recorded = recorded_from_stderr(stderr)
        if recorded is None:
            raise RecordingError(f"{configuration.name}: the run did not report what it "
                                 "recorded (no `run_under recorded:` line)")
        if recorded < minimum:
            raise RecordingError(f"{configuration.name}: the run recorded only {recorded}")
        return {"recorded": recorded}
    if configuration.count_allocations is None:
        return None
    if capture is None or not capture.exists() or capture.stat().st_size == 0:
        raise RecordingError(f"{configuration.name}: no capture was written")
    if not count:
        return {"bytes": capture.stat().st_size}
    allocations = configuration.count_allocations(python, capture)
    if allocations < minimum:
        raise RecordingError(f"{configuration.name}: capture holds only {allocations} "
                             f"allocations (at least {minimum} expected)")
    size = capture.stat().st_size
    return {"allocations": allocations, "bytes": size,
            "bytes_per_allocation": size / allocations if allocations else None}


def run_once(benchmark, configuration, python, directory, scale, count):
    """Runs benchmark under configuration once; returns ({measure: seconds},
    recorded)."""
    capture = capture_path(directory, configuration, benchmark.name) \
        if configuration.capture_suffix else None
    command = configuration.build_command(python, benchmark.script, benchmark.arguments(scale),
                                          capture)
    try:
        wall, cpu, stderr = run_measured_with_stderr(
            command, environment=environment.environment_variables(), cwd=directory)
    except subprocess.CalledProcessError as error:
        tail = " | ".join((error.stderr or "").strip().splitlines()[-3:])
        status = f"exited with {error.returncode}" if error.returncode >= 0 else \
            f"killed by {signal.Signals(-error.returncode).name}"
        raise RecordingError(f"{configuration.name}: {status}: {tail or 'no stderr'}")
    workload = runner_timing(stderr)
    if workload is None:
        raise RecordingError(f"{configuration.name}: the runner did not report its timing "
                             "(no `runner timing:` line on stderr)")
    times = {"wall": wall, "cpu": cpu, "workload_wall": workload[0],
             "workload_cpu": workload[1]}
    try:
        recorded = check_recorded(configuration, python, capture, stderr,
                                  benchmark.minimum_allocations, count=count)
    finally:
        if capture is not None and capture.exists():
            capture.unlink()
    return times, recorded


def measure(benchmarks, configurations, runs, python, scale=1.0, progress=True):
    """{benchmark: {"samples": {configuration: {measure: [...]}},
    "recorded": {configuration: ...}, "rejected": {configuration: reason}}}.
    Run by run, every benchmark runs once under every configuration, the
    configurations' order rotating from run to run."""
    results = {name: {"samples": {configuration: {key: [] for key in MEASURE_KEYS}
                                  for configuration in configurations},
                      "recorded": {}, "rejected": {}} for name in benchmarks}
    with tempfile.TemporaryDirectory(prefix="memlyze-bench-") as directory:
        for run in range(runs):
            shift = run % len(configurations)
            rotation = configurations[shift:] + configurations[:shift]
            for name in benchmarks:
                result = results[name]
                for configuration_name in rotation:
                    if configuration_name in result["rejected"]:
                        continue
                    configuration = CONFIGURATIONS[configuration_name]
                    try:
                        times, recorded = run_once(BENCHMARK_SET[name], configuration,
                                                       python, directory, scale,
                                                       count=run == 0)
                    except RecordingError as error:
                        result["rejected"][configuration_name] = str(error)
                        print(f"  REJECTED {name} under {error}", file=sys.stderr)
                        continue
                    for key in MEASURE_KEYS:
                        result["samples"][configuration_name][key].append(times[key])
                    if run == 0 or configuration.stderr_recorded:
                        result["recorded"][configuration_name] = recorded
            if progress:
                print(f"  run {run + 1}/{runs} done ({datetime.datetime.now():%H:%M:%S})",
                      file=sys.stderr)
    return results


def geometric_mean_interval(per_benchmark, rounds=1000, seed=54321):
    """95% bootstrap interval of the geometric mean over benchmarks of
    median(profiled) / median(baseline), resampling each benchmark's runs."""
    generator = random.Random(seed)
    means = []
    for _ in range(rounds):
        ratios = []
        for profiled, baseline in per_benchmark:
            ratios.append(median([generator.choice(profiled) for _ in profiled]) /
                          median([generator.choice(baseline) for _ in baseline]))
        means.append(geometric_mean(ratios))
    means.sort()
    return means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


def summarise(results, configurations):
    """Rows {benchmark, configuration, measure: (ratio, low, high) for each
    measure, recorded} and {configuration: {measure: (geomean, low, high),
    "benchmarks": n}}."""
    rows = []
    for benchmark, result in results.items():
        baseline = result["samples"]["python"]
        if "python" in result["rejected"] or not baseline["wall"]:
            continue
        for name in configurations:
            if name == "python" or name in result["rejected"]:
                continue
            samples = result["samples"][name]
            if not samples["wall"]:
                continue
            row = {"benchmark": benchmark, "configuration": name}
            for measure_name in MEASURE_KEYS:
                ratio = median(samples[measure_name]) / median(baseline[measure_name])
                low, high = bootstrap_ratio_interval(samples[measure_name],
                                                     baseline[measure_name])
                row[measure_name] = (ratio, low, high)
            row["recorded"] = result["recorded"].get(name)
            rows.append(row)
    means = {}
    for name in configurations:
        if name == "python":
            continue
        mine = [row for row in rows if row["configuration"] == name]
        if not mine:
            continue
        means[name] = {"benchmarks": len(mine)}
        for measure_name in MEASURE_KEYS:
            pairs = [(results[row["benchmark"]]["samples"][name][measure_name],
                      results[row["benchmark"]]["samples"]["python"][measure_name])
                     for row in mine]
            means[name][measure_name] = (geometric_mean([row[measure_name][0] for row in mine]),
                                         *geometric_mean_interval(pairs))
    return rows, means


def _cell(value):
    return "{:.3f} ({:.3f}–{:.3f})".format(*value)


def markdown_report(rows, means, configurations, results, context):
    profiled = [name for name in configurations if name != "python"]
    benchmarks = list(results)
    lines = [f"# Overhead of memlyze and its peers ({context['title']})", ""]
    lines += [f"- Date: {context['date']}",
              f"- Machine: {context['machine']['cpu_model']}, {context['machine']['nproc']} "
              f"CPUs usable (nproc), load average at start {context['machine']['load_average']}",
              f"- Python: {context['python_version']} ({context['python']})",
              f"- memlyze: {context['memlyze_commit']}; peers: {context['peers']}",
              f"- Runs per benchmark and configuration: {context['runs']}, configurations "
              "alternating run by run; work scale {}".format(context["scale"]),
              f"- Command: `{context['command']}`", ""]
    if context["skipped_configurations"] or context["skipped_benchmarks"]:
        lines.append("Skipped:")
        for name, reason in {**context["skipped_configurations"],
                             **context["skipped_benchmarks"]}.items():
            lines.append(f"- {name}: {reason}")
        lines.append("")
    lines += ["Configurations:", ""]
    for name in configurations:
        lines.append(f"- `{name}`: {CONFIGURATIONS[name].description}")
    lines.append("")
    lines += ["## Geometric mean of the median slowdown (95% bootstrap interval)", "",
              "Workload: timed inside the process by the shared runner, as pyperf does. "
              "Process: the whole process timed from outside, interpreter start-up, "
              "the profiler's start and its final flush included.", "",
              "| configuration | benchmarks | " +
              " | ".join(f"{SHORT_TITLES[key]} ratio" for key in MEASURE_KEYS) + " |",
              "|---|---|" + "---|" * len(MEASURE_KEYS)]
    for name in profiled:
        if name in means:
            lines.append(f"| {name} | {means[name]['benchmarks']} | " +
                         " | ".join(_cell(means[name][key]) for key in MEASURE_KEYS) + " |")
        else:
            lines.append(f"| {name} | 0 | " + " | ".join(["REJECTED everywhere"] *
                                                         len(MEASURE_KEYS)) + " |")
    by_key = {(row["benchmark"], row["configuration"]): row for row in rows}
    for measure_name, title in MEASURES:
        lines += ["", f"## Median {title}: ratio to plain Python (95% bootstrap interval)", "",
                  "| benchmark | python (s) | " + " | ".join(profiled) + " |",
                  "|---|" + "---|" * (len(profiled) + 1)]
        for benchmark in benchmarks:
            baseline = results[benchmark]["samples"]["python"][measure_name]
            cells = [f"{median(baseline):.3f}" if baseline else "-"]
            for name in profiled:
                row = by_key.get((benchmark, name))
                if row:
                    cells.append(_cell(row[measure_name]))
                elif name in results[benchmark]["rejected"]:
                    cells.append("REJECTED")
                else:
                    cells.append("-")
            lines.append(f"| {benchmark} | " + " | ".join(cells) + " |")
    capture_names = [name for name in profiled if CONFIGURATIONS[name].count_allocations]
    if capture_names:
        lines += ["", "## What the first run recorded: allocations in the capture "
                  "(bytes per allocation)", "",
                  "| benchmark | " + " | ".join(capture_names) + " |",
                  "|---|" + "---|" * len(capture_names)]
        for benchmark in benchmarks:
            cells = []
            for name in capture_names:
                recorded = results[benchmark]["recorded"].get(name)
                if recorded and recorded.get("allocations"):
                    cells.append(f"{recorded['allocations']:,} "
                                 f"({recorded['bytes_per_allocation']:.2f})")
                else:
                    cells.append("-")
            lines.append(f"| {benchmark} | " + " | ".join(cells) + " |")
    rejected = [(benchmark, name, reason) for benchmark in benchmarks
                for name, reason in results[benchmark]["rejected"].items()]
    if rejected:
        lines += ["", "## REJECTED: runs that failed or recorded nothing plausible "
                  "(not timed further)", ""]
        for benchmark, name, reason in rejected:
            whose = " (peer profiler)" if CONFIGURATIONS[name].peer else ""
            lines.append(f"- {benchmark} / {name}{whose}: {reason}")
    return "\n".join(lines) + "\n"


def draw_chart(path, rows, means, configurations, results, title):
    """A dot plot like memray's performance page: one row per benchmark and
    one for the geometric mean, one colour per configuration; the dot is the
    median ratio, the bar its 95% interval, faint dots each run's ratio to
    the median plain run. Panels: workload wall time, workload CPU time,
    whole-process wall time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    profiled = [name for name in configurations if name != "python" and name in means]
    if not profiled:
        print(f"no chart: no profiled configuration has results to draw ({path})")
        return
    benchmarks = list(results)
    labels = benchmarks + ["GEOMETRIC MEAN"]
    height = max(4.0, 0.45 * len(labels) * max(1.0, len(profiled) / 5) + 1.5)
    panels = ["workload_wall", "workload_cpu", "wall"]
    figure, axes = plt.subplots(1, len(panels), figsize=(20, height), sharey=True)
    colours = plt.get_cmap("tab20" if len(profiled) > 10 else "tab10")
    spread = 0.8 / max(1, len(profiled))
    by_key = {(row["benchmark"], row["configuration"]): row for row in rows}
    for axis, measure_name in zip(axes, panels):
        for index, name in enumerate(profiled):
            colour = colours(index)
            offset = (index - (len(profiled) - 1) / 2) * spread
            for position, benchmark in enumerate(benchmarks):
                row = by_key.get((benchmark, name))
                if not row:
                    continue
                y = position + offset
                baseline = median(results[benchmark]["samples"]["python"][measure_name])
                runs = [value / baseline
                        for value in results[benchmark]["samples"][name][measure_name]]
                axis.scatter(runs, [y] * len(runs), s=6, color=colour, alpha=0.35,
                             linewidths=0)
                ratio, low, high = row[measure_name]
                axis.errorbar([ratio], [y], xerr=[[ratio - low], [high - ratio]], fmt="o",
                              color=colour, markersize=4, elinewidth=1,
                              label=name if position == 0 else None)
            ratio, low, high = means[name][measure_name]
            axis.errorbar([ratio], [len(benchmarks) + offset],
                          xerr=[[ratio - low], [high - ratio]], fmt="D", color=colour,
                          markersize=5, elinewidth=1.5)
        axis.axvline(1.0, color="black", linewidth=0.8)
        axis.axhline(len(benchmarks) - 0.5, color="grey", linewidth=0.5)
        axis.set_xscale("log")
        axis.set_xlabel(f"{SHORT_TITLES[measure_name]} time / plain Python (log scale)")
        axis.grid(axis="x", which="both", alpha=0.3)
        axis.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        axis.xaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        axis.tick_params(axis="x", which="minor", labelsize=7)
        axis.set_yticks(range(len(labels)))
        axis.set_yticklabels(labels)
    axes[0].invert_yaxis()  # the axes share y: inverting both would undo it
    handles, names = axes[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="lower center", ncol=min(5, len(names)), fontsize=8,
                  frameon=False)
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.04 + 0.015 * (len(names) // 5), 1, 0.97))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def machine_description():
    model = "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or \
        str(len(os.sched_getaffinity(0)))
    return {"cpu_model": model, "nproc": int(nproc), "cpu_count": os.cpu_count(),
            "load_average": " ".join(f"{value:.2f}" for value in os.getloadavg()),
            "kernel": platform.release(), "machine": platform.machine()}


def describe_context(arguments, argv, python, runs, configurations, skipped_configurations,
                     skipped_benchmarks, title):
    version = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True, text=True).stdout.strip()
    peers = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m\n"
         "for name in ('memray', 'mprofile', 'pymemtrace', 'pyperformance', 'numpy'):\n"
         "    try: print(f'{name} {m.version(name)}')\n"
         "    except m.PackageNotFoundError: pass"],
        capture_output=True, text=True).stdout.strip().replace("\n", ", ")
    commit = subprocess.run(["git", "-C", str(REPOSITORY), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPOSITORY), "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True).stdout.strip()
    return {"title": title, "date": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC"), "machine": machine_description(),
            "python": str(python), "python_version": version or "unknown",
            "memlyze_commit": f"{commit}{' + uncommitted changes in src/' if dirty else ''}",
            "peers": peers or "none", "runs": runs, "scale": arguments.scale,
            "configurations": configurations,
            "skipped_configurations": skipped_configurations,
            "skipped_benchmarks": skipped_benchmarks,
            "command": "python benchmarks/overhead.py " + " ".join(argv)}


def calibrate(benchmarks, python, scale):
    print("| benchmark | size | plain wall (s), median of 3 |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="memlyze-calibrate-") as directory:
        for name in benchmarks:
            benchmark = BENCHMARK_SET[name]
            walls = [run_measured_with_stderr(
                CONFIGURATIONS["python"].build_command(
                    python, benchmark.script, benchmark.arguments(scale), None),
                environment=environment.environment_variables(), cwd=directory)[0]
                for _ in range(3)]
            print(f"| {name} | {max(1, round(benchmark.size * scale))} | {median(walls):.3f} |")


def chart_from_json(source, path):
    raw = json.loads(pathlib.Path(source).read_text())
    context = raw["context"]
    draw_chart(path, raw["summary"], raw["geometric_means"], context["configurations"],
               raw["results"], f"memlyze overhead ({context['title']}), {context['date']}")


def chart(source, path, python):
    """Draws with matplotlib here, or else with the benchmarked interpreter
    (the benchmark environment has it)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        result = subprocess.run([str(python), __file__, "--chart-from", source, path],
                                capture_output=True, text=True)
        if result.returncode != 0:
            print(f"no chart: matplotlib is importable neither here nor in {python}: "
                  f"{result.stderr.strip().splitlines()[-1:]}")
        return
    chart_from_json(source, path)


def main(argv=None):
    arguments = parse_arguments(argv)
    if arguments.chart_from:
        chart_from_json(*arguments.chart_from)
        return 0
    if arguments.report_from:
        raw = json.loads(pathlib.Path(arguments.report_from).read_text())
        print(markdown_report(raw["summary"], raw["geometric_means"],
                              raw["context"]["configurations"], raw["results"], raw["context"]),
              end="")
        return 0
    runs = arguments.runs or (7 if arguments.quick else 11)
    configurations = (arguments.configurations.split(",") if arguments.configurations
                      else list(QUICK if arguments.quick else FULL))
    if "python" not in configurations:
        configurations.insert(0, "python")
    unknown = [name for name in configurations if name not in CONFIGURATIONS]
    if unknown:
        raise SystemExit(f"unknown configuration(s): {', '.join(unknown)}")
    benchmarks = (arguments.benchmarks.split(",") if arguments.benchmarks
                  else list(QUICK_BENCHMARKS if arguments.quick else BENCHMARK_SET))
    unknown = [name for name in benchmarks if name not in BENCHMARK_SET]
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)}")
    python = choose_interpreter(arguments)
    benchmarks, skipped_benchmarks = available_benchmarks(benchmarks, python)
    for name, reason in skipped_benchmarks.items():
        print(f"skipping benchmark {name}: {reason}")
    if arguments.calibrate:
        calibrate(benchmarks, python, arguments.scale)
        return 0
    configurations, skipped_configurations = available_configurations(configurations, python)
    for name, reason in skipped_configurations.items():
        print(f"skipping configuration {name}: {reason}")
    if "python" not in configurations or not benchmarks:
        raise SystemExit("nothing to run: plain Python or every benchmark is unavailable")
    cpymemtrace = [name for name in CONFIGURATIONS if name.startswith("memlyze-cpymemtrace")]
    if CONFIGURATIONS[cpymemtrace[0]].unavailable(python):
        print("memlyze.cpymemtrace (RSS tracing) is not available yet in this build: "
              "its configurations cannot run")
    print(f"{len(benchmarks)} benchmarks x {len(configurations)} configurations x {runs} runs "
          f"with {python}", file=sys.stderr)
    results = measure(benchmarks, configurations, runs, python, arguments.scale)
    rows, means = summarise(results, configurations)
    title = "--quick" if arguments.quick else "full set"
    if arguments.benchmarks or arguments.configurations or arguments.runs or \
            arguments.scale != 1.0:
        title += ", custom selection"
    context = describe_context(arguments, sys.argv[1:] if argv is None else argv, python,
                               runs, configurations, skipped_configurations,
                               skipped_benchmarks, title)
    report = markdown_report(rows, means, configurations, results, context)
    print(report)
    raw = {"context": context, "results": results, "summary": rows, "geometric_means": means}
    if arguments.output:
        pathlib.Path(arguments.output).write_text(json.dumps(raw, indent=2))
    if arguments.output_prefix:
        prefix = pathlib.Path(arguments.output_prefix)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(f"{prefix}.md").write_text(report)
        pathlib.Path(f"{prefix}.json").write_text(json.dumps(raw, indent=2))
        chart(f"{prefix}.json", f"{prefix}.png", python)
    rejected = [name for result in results.values() for name in result["rejected"]]
    ours = [name for name in rejected if not CONFIGURATIONS[name].peer]
    if len(ours) < len(rejected):
        print(f"{len(rejected) - len(ours)} peer benchmark/configuration pair(s) failed "
              "(reported, not counted): see above", file=sys.stderr)
    if ours:
        print(f"{len(ours)} memlyze or baseline benchmark/configuration pair(s) REJECTED: "
              "see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
