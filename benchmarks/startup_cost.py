"""What `memlyze run` adds to the start and end of a program: an empty script
run by plain Python, by `memlyze run` (one or two builds side by side) and by
`memray run`, in one run.

Two measures:
- wall time of the whole command, runs alternating between the commands,
  medians and the difference to plain Python in ms;
- with --instructions, valgrind's instruction counts (callgrind), which
  repeat where timings drown in noise. `memlyze run` (in-process, the
  default) is one process and one count. `memlyze run --exec`, and a
  baseline build that execs, are two processes: the command line, which
  execs the program's interpreter, and that interpreter; valgrind loses
  what a process counted when it execs, so the command line is counted on
  its own (its main() with the exec replaced by an exit) and the profiled
  interpreter through --trace-children.

    python benchmarks/startup_cost.py --runs 40
    python benchmarks/startup_cost.py --baseline-python /tmp/base/.venv/bin/python \\
        --instructions --output benchmarks/results/startup-cost.md
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# The command line up to its exec (exit status 0), or its whole run when it
# runs the program itself (exit status RAN_IN_PROCESS).
RAN_IN_PROCESS = 3
COMMAND_LINE_ONLY = f"""
import os, sys
os.execve = lambda *arguments: os._exit(0)
sys.argv = ["memlyze", "run", *sys.argv[1:]]
from memlyze.cli.main import main
main()
os._exit({RAN_IN_PROCESS})
"""


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable,
                        help="the Python whose memlyze is measured (default: this one)")
    parser.add_argument("--baseline-python", help="a Python with the memlyze to compare with")
    parser.add_argument("--runs", type=int, default=30, help="wall-time runs of each command")
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions with valgrind --tool=callgrind")
    parser.add_argument("--output", type=pathlib.Path, help="Markdown file (and .json beside it)")
    return parser.parse_args(argv)


def memlyze_script(python):
    return str(pathlib.Path(python).parent / "memlyze")


def commands(options, directory):
    script = str(directory / "empty.py")
    capture = str(directory / "capture.mlyze")
    command = memlyze_script(options.python)
    found = {"python": [options.python, script],
             "memlyze run": [command, "run", "-o", capture, "-f", script],
             "memlyze run --sample-interval 512KiB": [
                 command, "run", "--sample-interval", "512KiB", "-o", capture, "-f", script],
             "memlyze run --exec": [command, "run", "--exec", "-o", capture, "-f", script]}
    if options.baseline_python:
        found["memlyze run (baseline)"] = [memlyze_script(options.baseline_python), "run", "-o",
                                           capture, "-f", script]
    memray = pathlib.Path(options.python).parent / "memray"
    if memray.exists():
        found["memray run"] = [str(memray), "run", "-q", "-f", "-o",
                               str(directory / "capture.bin"), script]
    return found


def wall_times(found, runs, directory):
    times = {name: [] for name in found}
    for _ in range(runs):
        for name, command in found.items():
            started = time.perf_counter()
            subprocess.run(command, cwd=directory, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - started)
    return times


def callgrind_count(command, directory, trace_children=False, statuses=(0,)):
    """Instructions of the last process of command (the one that ran the
    program when the command execs), and its exit status."""
    out = directory / "callgrind.out"
    valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                f"--trace-children={'yes' if trace_children else 'no'}"]
    result = subprocess.run(valgrind + command, cwd=directory, capture_output=True, text=True)
    if result.returncode not in statuses:
        raise SystemExit(f"valgrind failed on {' '.join(command)}:\n{result.stderr[-2000:]}")
    counts = re.findall(r"Collected : (\d+)", result.stderr)
    return int(counts[-1]), result.returncode


def run_count(python, name, found, directory):
    """One count for a command line that runs the program itself, two parts
    for one that execs it."""
    options = found[name][2:]  # after the memlyze script and "run"
    command_line, status = callgrind_count([python, "-c", COMMAND_LINE_ONLY, *options],
                                           directory, statuses=(0, RAN_IN_PROCESS))
    if status == RAN_IN_PROCESS:
        return callgrind_count(found[name], directory)[0]
    program = callgrind_count(found[name], directory, trace_children=True)[0]
    return {"command line": command_line, "profiled interpreter": program,
            "total": command_line + program}


def instruction_counts(options, found, directory):
    counts = {"python": callgrind_count(found["python"], directory)[0]}
    pythons = {"memlyze run": options.python, "memlyze run --exec": options.python}
    if options.baseline_python:
        pythons["memlyze run (baseline)"] = options.baseline_python
    for name, python in pythons.items():
        counts[name] = run_count(python, name, found, directory)
    if "memray run" in found:
        counts["memray run"] = callgrind_count(found["memray run"], directory)[0]
    return counts


def total(value):
    return value["total"] if isinstance(value, dict) else value


def report(options, times, counts):
    plain = statistics.median(times["python"])
    lines = ["# Start-up and exit cost of an empty script", "",
             f"{options.runs} runs of each command, alternating; medians. Python: "
             f"{options.python}" + (f"; baseline: {options.baseline_python}"
                                    if options.baseline_python else ""), "",
             "| command | median wall | over plain Python |", "|---|---:|---:|"]
    for name, values in times.items():
        median = statistics.median(values)
        lines.append(f"| {name} | {median * 1000:.1f} ms | {(median - plain) * 1000:+.1f} ms |")
    if counts:
        base = counts["python"]
        lines += ["", "Instructions (callgrind):", "",
                  "| command | instructions | over plain Python | parts |", "|---|---:|---:|---|"]
        for name, value in counts.items():
            parts = ""
            if isinstance(value, dict):
                parts = ", ".join(f"{part} {number / 1e6:.1f} M" for part, number in value.items()
                                  if part != "total")
            lines.append(f"| {name} | {total(value) / 1e6:.1f} M | "
                         f"{(total(value) - base) / 1e6:+.1f} M | {parts} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    options = parse_arguments(sys.argv[1:] if argv is None else argv)
    if options.instructions and not shutil.which("valgrind"):
        raise SystemExit("--instructions needs valgrind")
    with tempfile.TemporaryDirectory(prefix="memlyze-startup-") as name:
        directory = pathlib.Path(name)
        (directory / "empty.py").write_text("")
        found = commands(options, directory)
        wall_times(found, 2, directory)  # warm the page cache and the .pyc files
        times = wall_times(found, options.runs, directory)
        counts = instruction_counts(options, found, directory) if options.instructions else None
    text = report(options, times, counts)
    print(text, end="")
    if options.output:
        options.output.write_text(text)
        options.output.with_suffix(".json").write_text(json.dumps(
            {"runs": options.runs, "wall_seconds": times, "instructions": counts,
             "load_average": os.getloadavg()}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
