"""The flight recorder's memory over a long churn: is it flat?

Runs one churn program (bytes(1000) made and dropped in a loop: two events
per iteration, nothing held) for DURATION seconds under each configuration,
all at the same time, side by side in one run: plain Python, and memlyze
--ring with a time window (its memory cap binds) and with a count of
events. Every second it reads each process's RSS (VmRSS of
/proc/PID/status). It reports, per configuration, RSS after the warm-up
(the window filled), at the end, its range after the warm-up, the slope
over the second half (MiB per minute: 0 is flat), the RSS above plain
Python's, and the churn's iterations per second as a ratio to plain
Python's in the same run (the overhead; the processes share the machine).

    python benchmarks/ring_memory.py                        # 5 minutes
    python benchmarks/ring_memory.py --duration 60 --output-prefix /tmp/ring
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

CHURN = """
import sys, time
deadline = time.monotonic() + float(sys.argv[1])
iterations = 0
while time.monotonic() < deadline:
    for _ in range(10_000):
        bytes(1000)
    iterations += 10_000
print(iterations, flush=True)
"""

WARM_UP_SECONDS = 30


def configurations(python: str, directory: pathlib.Path) -> dict:
    """name -> command prefix (the churn script and its argument follow)."""
    memlyze = [python, "-m", "memlyze", "run", "-f"]
    return {
        "python": [python],
        "memlyze --ring 30s": [*memlyze, "--ring", "30s", "-o", str(directory / "time.mlyze")],
        "memlyze --ring 1000000": [*memlyze, "--ring", "1000000",
                                   "-o", str(directory / "events.mlyze")],
    }


def rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def slope_mib_per_minute(points: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS over time, in MiB per minute."""
    if len(points) < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_r = sum(r for _, r in points) / len(points)
    numerator = sum((t - mean_t) * (r - mean_r) for t, r in points)
    denominator = sum((t - mean_t) ** 2 for t, _ in points) or 1.0
    return numerator / denominator * 60 / 2**20


def run(python: str, duration: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="ring-memory-") as scratch:
        directory = pathlib.Path(scratch)
        script = directory / "churn.py"
        script.write_text(CHURN)
        processes = {
            name: subprocess.Popen([*command, str(script), str(duration)], cwd=directory,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name, command in configurations(python, directory).items()
        }
        start = time.monotonic()
        samples = {name: [] for name in processes}
        while any(process.poll() is None for process in processes.values()):
            elapsed = time.monotonic() - start
            for name, process in processes.items():
                rss = rss_bytes(process.pid) if process.poll() is None else None
                if rss is not None:
                    samples[name].append((round(elapsed, 2), rss))
            time.sleep(1.0)
        results = {}
        for name, process in processes.items():
            out, err = process.communicate()
            if process.returncode != 0:
                raise SystemExit(f"{name} failed ({process.returncode}): {err.strip()}")
            results[name] = {"iterations": int(out.split()[-1]), "samples": samples[name]}
        for capture in directory.glob("*.mlyze*"):
            stats = subprocess.run([python, "-m", "memlyze", "stats", "--json", str(capture)],
                                   capture_output=True, text=True)
            if stats.returncode == 0:
                figures = json.loads(stats.stdout)
                name = ("memlyze --ring 30s" if capture.name.startswith("time")
                        else "memlyze --ring 1000000")
                results[name].setdefault("dumps", []).append({
                    "file": capture.name, "tracker_memory_bytes": figures["tracker_memory_bytes"],
                    "window_allocations": figures["total_allocations"],
                    "evicted_events": (figures.get("ring") or {}).get("evicted_events")})
    return results


def summarise(results: dict, duration: float) -> dict:
    plain = results["python"]
    plain_rate = plain["iterations"] / duration
    summary = {}
    for name, result in results.items():
        points = result["samples"]
        warm = [(t, r) for t, r in points if t >= WARM_UP_SECONDS] or points
        second_half = [(t, r) for t, r in points if t >= duration / 2] or points
        rss = [r for _, r in warm]
        summary[name] = {
            "events_per_second": 2 * result["iterations"] / duration,
            "speed_ratio_to_python": (result["iterations"] / duration) / plain_rate,
            "rss_after_warm_up_mib": rss[0] / 2**20,
            "rss_end_mib": rss[-1] / 2**20,
            "rss_range_after_warm_up_mib": (max(rss) - min(rss)) / 2**20,
            "rss_max_mib": max(r for _, r in points) / 2**20,
            "slope_second_half_mib_per_minute": slope_mib_per_minute(second_half),
        }
    base = summary["python"]["rss_end_mib"]
    for figures in summary.values():
        figures["rss_above_python_end_mib"] = figures["rss_end_mib"] - base
    return summary


def markdown(summary: dict, results: dict, duration: float, python: str) -> str:
    lines = [
        f"# The flight recorder's memory over a {duration:g} s churn",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {python} "
        f"({sys.version.split()[0]}), {os.cpu_count()} cores, load "
        f"{os.getloadavg()[0]:.1f} at the end; configurations run side by side. Command: "
        f"`python benchmarks/ring_memory.py --duration {duration:g}`.",
        "",
        "| configuration | events/s | speed vs python | RSS after 30 s | RSS at end | "
        "range after 30 s | slope, 2nd half | above python at end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, figures in summary.items():
        lines.append(
            f"| {name} | {figures['events_per_second']:,.0f} | "
            f"{figures['speed_ratio_to_python']:.3f} | {figures['rss_after_warm_up_mib']:.1f} MiB | "
            f"{figures['rss_end_mib']:.1f} MiB | {figures['rss_range_after_warm_up_mib']:.1f} MiB | "
            f"{figures['slope_second_half_mib_per_minute']:+.3f} MiB/min | "
            f"{figures['rss_above_python_end_mib']:+.1f} MiB |")
    lines += ["", "Dumps written at exit:", ""]
    for name, result in results.items():
        for dump in result.get("dumps", []):
            lines.append(f"- {name}: {dump['file']}: tracker memory at its peak "
                         f"{dump['tracker_memory_bytes'] / 2**20:.1f} MiB, "
                         f"{dump['window_allocations']:,} allocations in the dump, "
                         f"{dump['evicted_events']:,} earlier events left out")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds (default 300)")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter (memlyze installed in it)")
    parser.add_argument("--output-prefix", default=None,
                        help="write PREFIX.json and PREFIX.md (default: "
                             "benchmarks/results/ring-memory-<date>)")
    options = parser.parse_args(argv)
    if options.duration < 2 * WARM_UP_SECONDS:
        parser.error(f"--duration must be at least {2 * WARM_UP_SECONDS} s")
    results = run(options.python, options.duration)
    summary = summarise(results, options.duration)
    prefix = options.output_prefix or str(
        pathlib.Path(__file__).resolve().parent / "results" /
        f"ring-memory-{datetime.date.today():%Y-%m-%d}")
    pathlib.Path(f"{prefix}.json").write_text(json.dumps(
        {"duration_s": options.duration, "summary": summary, "results": results}, indent=1))
    text = markdown(summary, results, options.duration, options.python)
    pathlib.Path(f"{prefix}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
