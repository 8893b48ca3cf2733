"""The fault suite's figures: kills, exit paths and a full disk.

Measures whatever the installed memlyze does (run it with the interpreter
memlyze is installed in) and prints, then writes to
benchmarks/results/fault-suite-<date>.md and .json:

- SIGKILL at 20 reproducible moments of a steady allocator (the moments and
  the loss measure of tests/python/test_fault_kills.py): kills tried, captures
  readable, worst events lost in ms before the kill.
- Each exit path (return, sys.exit, os._exit, SIGTERM, SIGINT, SIGSEGV,
  SIGABRT, exec) of a program making exactly EXIT_ALLOCATIONS allocations
  of known sizes before it leaves: allocations missing from the capture.
- A full disk (tests/python/disk_full_scenario.py, in a mount namespace):
  program unaffected, one line from memlyze, capture readable.

    python benchmarks/fault_suite.py
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

import test_fault_kills as kills  # noqa: E402
from conftest import MEMLYZE, clean_env  # noqa: E402

EXIT_ALLOCATIONS = 5000
# bytearray(n) asks malloc for n + 1 bytes: sizes no start-up allocation has.
EXIT_SIZES = range(3001, 3008)

EXIT_PROGRAM = textwrap.dedent(f"""\
    import os, signal, sys
    kept = []
    for index in range({EXIT_ALLOCATIONS}):
        kept.append(bytearray(3000 + index % 7))
    way = sys.argv[1]
    if way == "sys.exit":
        sys.exit(0)
    elif way == "os._exit":
        os._exit(0)
    elif way in ("SIGTERM", "SIGINT", "SIGSEGV", "SIGABRT"):
        os.kill(os.getpid(), getattr(signal, way))
        signal.pause()
    elif way == "exec":
        os.execv("/bin/true", ["/bin/true"])
""")
EXIT_WAYS = ("return", "sys.exit", "os._exit", "SIGTERM", "SIGINT", "SIGSEGV", "SIGABRT", "exec")


def recorded_of_sizes(capture, sizes) -> int | None:
    """Allocations of those sizes in capture, None when it cannot be read."""
    from memlyze import FileReader

    try:
        return sum(1 for record in FileReader(str(capture)).records()
                   if record.size in sizes and str(record.kind) == "alloc")
    except Exception:  # an unreadable capture is a figure here, not a crash
        return None


def measure_kills(directory: pathlib.Path) -> dict:
    (directory / "allocator.py").write_text(kills.ALLOCATOR)
    outcomes = [kills.outcome_of(kills.run_and_kill(directory, str(index), delay))
                for index, delay in enumerate(kills.kill_moments())]
    losses = [outcome["lost_ms"] for outcome in outcomes if outcome["lost_ms"] is not None]
    return {"tried": len(outcomes),
            "with_capture": sum(1 for o in outcomes if o["readable"] is not None),
            "readable": sum(1 for o in outcomes if o["readable"]),
            "worst_lost_ms": max(losses, default=0.0),
            "over_100_ms": sum(1 for loss in losses if loss > kills.LOSS_BOUND_MS),
            "problems": [f"{o['delay']:.3f} s: {p}" for o in outcomes for p in o["problems"]],
            "each": [{"delay_s": o["delay"], "capture": o["readable"] is not None,
                      "readable": o["readable"], "program_ran": o["program_ran"],
                      "lost_ms": o["lost_ms"]} for o in outcomes]}


def measure_exit(directory: pathlib.Path, way: str) -> dict:
    program = directory / "exits.py"
    program.write_text(EXIT_PROGRAM)
    capture = directory / f"exit-{way}.mlyze"
    result = subprocess.run([*MEMLYZE, "run", "-o", str(capture), str(program), way],
                            capture_output=True, text=True, env=clean_env(), timeout=120)
    plain = subprocess.run([sys.executable, str(program), way], capture_output=True,
                           text=True, env=clean_env(), timeout=120)
    recorded = recorded_of_sizes(capture, EXIT_SIZES) if capture.exists() else None
    return {"way": way, "exit_status": result.returncode, "plain_exit_status": plain.returncode,
            "recorded": recorded,
            "lost": None if recorded is None else EXIT_ALLOCATIONS - recorded}


def measure_disk_full(directory: pathlib.Path) -> list[dict]:
    prefix = (["unshare", "--mount"] if os.geteuid() == 0
              else ["unshare", "--user", "--map-root-user", "--mount"])
    scenario = ROOT / "tests" / "python" / "disk_full_scenario.py"
    rows = []
    for mode in ("default", "aggregate"):
        for command in ("run", "record"):
            workdir = directory / f"disk-{mode}-{command}"
            workdir.mkdir()
            result = subprocess.run([*prefix, sys.executable, str(scenario), str(workdir), mode,
                                     command], capture_output=True, text=True,
                                    env=clean_env(), timeout=180)
            if result.returncode != 0:
                rows.append({"case": f"{command} {mode}", "error": result.stderr.strip()[-300:]})
                continue
            outcome = json.loads(result.stdout)
            plain, recorded = outcome["plain"], outcome["recorded"]
            own = [line for line in recorded["stderr"].splitlines()
                   if not line.startswith("memlyze")]
            stats = subprocess.run([*MEMLYZE, "stats", "--json", outcome["capture"]],
                                   capture_output=True, text=True, env=clean_env(), timeout=120)
            rows.append({
                "case": f"{command} {mode}",
                "program_unaffected": (recorded["returncode"] == plain["returncode"]
                                       and recorded["stdout"] == plain["stdout"]
                                       and own == plain["stderr"].splitlines()),
                "memlyze_lines": [line for line in recorded["stderr"].splitlines()
                                  if line.startswith("memlyze")],
                "capture_readable": stats.returncode == 0,
                "left_on_disk": outcome["left_on_disk"]})
    return rows


def markdown(figures: dict) -> str:
    k = figures["kills"]
    lines = [f"# Fault suite, {figures['date']} (memlyze {figures['memlyze']}, "
             f"Python {figures['python']})", "",
             f"Load average at the start: {figures['load_average']} (2 cores, shared).",
             "A kill before memlyze created its file leaves no capture (nothing ran yet).", "",
             "| SIGKILL | tried | left a capture | readable | worst events lost | over 100 ms |",
             "|---|---|---|---|---|---|",
             f"| steady allocator | {k['tried']} | {k['with_capture']} | {k['readable']} | "
             f"{k['worst_lost_ms']:.0f} ms | {k['over_100_ms']} |", "",
             f"| exit path ({EXIT_ALLOCATIONS} allocations) | exit status (plain) | recorded "
             f"| lost |", "|---|---|---|---|"]
    for row in figures["exits"]:
        lines.append(f"| {row['way']} | {row['exit_status']} ({row['plain_exit_status']}) | "
                     f"{row['recorded']} | {row['lost']} |")
    exits = figures["exits"]
    lost_total = sum(row["lost"] for row in exits if row["lost"] is not None)
    unreadable = sum(1 for row in exits if row["lost"] is None)
    lines += ["", f"Exit paths tried: {len(exits)}; events lost: {lost_total} in all "
              f"({sum(1 for row in exits if row['lost'])} paths lost some, "
              f"{unreadable} left no readable capture).", "",
              "| disk full | program unaffected | memlyze's lines | capture readable | "
              "left on disk |", "|---|---|---|---|---|"]
    for row in figures["disk_full"]:
        if "error" in row:
            lines.append(f"| {row['case']} | scenario failed: {row['error']} | | | |")
            continue
        lines.append(f"| {row['case']} | {row['program_unaffected']} | "
                     f"{len(row['memlyze_lines'])}: {' / '.join(row['memlyze_lines'])} | "
                     f"{row['capture_readable']} | {', '.join(row['left_on_disk'])} |")
    if k["problems"]:
        lines += ["", "Kill problems:", *[f"- {problem}" for problem in k["problems"]]]
    return "\n".join(lines) + "\n"


def main() -> None:
    import memlyze

    with tempfile.TemporaryDirectory(prefix="memlyze-fault-suite-") as name:
        directory = pathlib.Path(name)
        figures = {"date": datetime.date.today().isoformat(),
                   "memlyze": getattr(memlyze, "__version__", "?"),
                   "python": sys.version.split()[0],
                   "load_average": " ".join(open("/proc/loadavg").read().split()[:3]),
                   "kills": measure_kills(directory),
                   "exits": [measure_exit(directory, way) for way in EXIT_WAYS],
                   "disk_full": measure_disk_full(directory)}
    text = markdown(figures)
    print(text)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    stem = results / f"fault-suite-{figures['date']}"
    stem.with_suffix(".md").write_text(text)
    stem.with_suffix(".json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
