"""--aggregate: only per-stack totals are kept, and the capture is rewritten
with the latest aggregated snapshot every interval: bounded in size, and
readable after the process is killed."""

import os
import signal
import subprocess
import time

import pytest

import memlyze
from conftest import MEMLYZE, check, comprehension, clean_env, line_of, stats_json, write_script
from conftest import memlyze as run_memlyze

WORKLOAD = """
import sys, time

def hold():
    return [bytes(200_000) for _ in range(40)]  # HOLD

def churn():
    for _ in range(20):
        temporary = [bytes(50_000) for _ in range(10)]  # CHURN

kept = hold()
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    churn()
    time.sleep(0.005)
print("ready", flush=True)
time.sleep(float(sys.argv[2]))
"""


def record_aggregate(tmp_path, name, run_seconds, interval="0.05"):
    script = write_script(tmp_path, "workload.py", WORKLOAD)
    capture = tmp_path / name
    check(run_memlyze("run", "-f", "--aggregate", "--aggregate-interval", interval,
                      "-o", capture, script, run_seconds, "0", cwd=tmp_path))
    return script, capture


def first_location(entries):
    entry = entries[0]
    return entry["function"], entry["line"]


def test_stats_of_an_aggregate_capture(tmp_path):
    script, capture = record_aggregate(tmp_path, "short.mlyze", "0.3")
    stats = stats_json(capture, tmp_path)
    assert stats["aggregated"] is True
    assert first_location(stats["top_by_peak"]) == (comprehension("hold"),
                                                     line_of(script, "HOLD"))
    assert 8_000_000 <= stats["top_by_peak"][0]["bytes"] <= 8_100_000
    assert first_location(stats["top_by_total"]) == (comprehension("churn"),
                                                      line_of(script, "CHURN"))
    assert first_location(stats["top_leaks"]) == (comprehension("hold"),
                                                    line_of(script, "HOLD"))
    assert stats["peak_bytes"] >= 8_000_000
    assert stats["total_bytes"] > stats["peak_bytes"]
    assert 0 < stats["peak_time_s"] <= stats["duration_s"]


def test_file_size_stays_bounded(tmp_path):
    _, short = record_aggregate(tmp_path, "short.mlyze", "0.2")
    _, long = record_aggregate(tmp_path, "long.mlyze", "3")  # about 60 snapshots
    short_size, long_size = os.path.getsize(short), os.path.getsize(long)
    assert long_size < 64 * 1024
    assert long_size < 2 * short_size + 4096, (short_size, long_size)
    assert not os.path.exists(f"{long}.tmp")
    stats = stats_json(long, tmp_path)
    assert stats["total_allocations"] > 10 * stats_json(short, tmp_path)["total_allocations"] / 2


def test_latest_snapshot_survives_sigkill(tmp_path):
    script = write_script(tmp_path, "workload.py", WORKLOAD)
    capture = tmp_path / "killed.mlyze"
    process = subprocess.Popen(
        [*MEMLYZE, "run", "--aggregate", "--aggregate-interval", "0.05", "-o", str(capture),
         str(script), "0.2", "60"],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # a few more snapshots
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    stats = stats_json(capture, tmp_path)
    assert stats["aggregated"] is True and not stats.get("truncated")
    assert first_location(stats["top_leaks"]) == (comprehension("hold"),
                                                   line_of(script, "HOLD"))
    assert stats["leaked_bytes"] >= 8_000_000


def test_reports_refuse_what_an_aggregate_capture_lacks(tmp_path):
    _, capture = record_aggregate(tmp_path, "short.mlyze", "0.1")
    result = run_memlyze("flamegraph", "--temporary", "-o", tmp_path / "t.html", capture,
                         cwd=tmp_path)
    assert result.returncode != 0
    assert ("this capture was recorded with --aggregate; temporary allocations are not "
            "available") in result.stderr


def test_reports_answer_peak_leaks_and_total_from_an_aggregate_capture(tmp_path):
    from memlyze.reports.flame_data import build_flame_data

    script, capture = record_aggregate(tmp_path, "reports.mlyze", "0.3")
    hold = (comprehension("hold"), line_of(script, "HOLD"))
    for selection in ("peak", "leaks"):
        data = build_flame_data(capture, selection=selection)
        nodes, strings = data["nodes"], data["strings"]
        named = {(strings[nodes["function"][index]], nodes["line"][index]): nodes["bytes"][index]
                 for index in range(1, len(nodes["parent"]))}
        assert 8_000_000 <= named[hold] <= 8_100_000, selection
        assert nodes["bytes"][0] >= 8_000_000
    total = build_flame_data(capture, selection="total")
    assert total["nodes"]["bytes"][0] > 8_100_000  # the churn as well
    collapsed = check(run_memlyze("export", "--format", "collapsed", "--leaks", capture,
                                  cwd=tmp_path)).stdout
    assert any(line.split(";")[-1].startswith(comprehension("hold"))
               for line in collapsed.splitlines())
    table = check(run_memlyze("table", capture, cwd=tmp_path)).stdout
    assert comprehension("hold") in table


def test_tracker_aggregate_in_process(tmp_path):
    capture = tmp_path / "api.mlyze"
    with memlyze.Tracker(capture, aggregate=True, aggregate_interval=0.05):
        kept = [bytearray(300_000) for _ in range(10)]  # KEPT
        time.sleep(0.2)
        size_while_running = os.path.getsize(capture)
        del kept
    assert size_while_running > 0  # a snapshot is on disk before stop
    with memlyze.FileReader(capture) as reader:
        assert reader.metadata["aggregate"] is True
        top = reader.summary["top_by_peak"][0]
        held = list(reader.peak_allocations())
        assert held[0].location.line == line_of(__file__, "KEPT")
        with pytest.raises(memlyze.CaptureError, match="--aggregate; per-event records"):
            next(reader.records())
    assert top["line"] == line_of(__file__, "KEPT") and top["bytes"] >= 3_000_000


def test_bad_aggregate_interval_is_refused(tmp_path):
    with pytest.raises(ValueError):
        memlyze.Tracker(tmp_path / "x.mlyze", aggregate=True, aggregate_interval=0)
    result = run_memlyze("run", "--aggregate", "--aggregate-interval", "soon", "-c", "pass",
                         cwd=tmp_path)
    assert result.returncode == 2 and "aggregate-interval" in result.stderr
    assert not list(tmp_path.glob("*.mlyze"))  # refused before the capture is made
    # (--aggregate with sampling works: tests/python/test_aggregate_sampling.py)
