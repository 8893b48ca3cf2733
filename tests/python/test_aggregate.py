"""--aggregate: only per-stack totals are kept, and the capture is rewritten
with the latest aggregated snapshot every interval: bounded in size, and
readable after the process is killed."""

import os
import signal
import subprocess
import time

import pytest

import memlyze
from conftest import (MEMLYZE, assert_close, assert_one_line_error, bytearray_bytes, check,
                      comprehension, clean_env, line_of, stats_json, write_script)
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
    assert stats["aggregated"] is True and stats["truncated"] is False
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
    assert not [name for name in os.listdir(tmp_path) if ".mlyze.tmp" in name]
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
    assert stats["aggregated"] is True and stats["truncated"] is True  # it never stopped
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


SHORT_WORKLOAD = """
import time

deadline = time.monotonic() + 0.3
while time.monotonic() < deadline:
    temporary = [bytes(50_000) for _ in range(10)]
    time.sleep(0.005)
"""

VICTIM_BYTES = b"the victim's own content\n"


def plant_victim(tmp_path, link):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(VICTIM_BYTES)
    os.symlink(victim, link)
    return victim


def test_a_link_planted_at_the_old_temporary_name_is_not_followed(tmp_path):
    script = write_script(tmp_path, "short.py", SHORT_WORKLOAD)
    capture = tmp_path / "planted.mlyze"
    victim = plant_victim(tmp_path, f"{capture}.tmp")
    check(run_memlyze("run", "--aggregate", "--aggregate-interval", "0.05", "-o", capture,
                      script, cwd=tmp_path))
    assert victim.read_bytes() == VICTIM_BYTES
    assert os.path.islink(f"{capture}.tmp")  # left as it was
    stats = stats_json(capture, tmp_path)
    assert stats["aggregated"] is True and stats["truncated"] is False
    assert stats["total_allocations"] > 0
    assert not [name for name in os.listdir(tmp_path) if name.startswith("planted.mlyze.tmp.")]


def test_a_link_at_the_output_is_refused_without_force(tmp_path):
    script = write_script(tmp_path, "short.py", SHORT_WORKLOAD)
    capture = tmp_path / "linked.mlyze"
    victim = plant_victim(tmp_path, capture)
    refused = run_memlyze("run", "--aggregate", "-o", capture, script, cwd=tmp_path)
    assert_one_line_error(refused)
    assert "exists" in refused.stderr
    assert victim.read_bytes() == VICTIM_BYTES and os.path.islink(capture)
    # -f overwrites what is there (the command empties it first, in every
    # mode); the snapshots' rename then replaces the link with the capture
    check(run_memlyze("run", "-f", "--aggregate", "--aggregate-interval", "0.05", "-o", capture,
                      script, cwd=tmp_path))
    assert not os.path.islink(capture)
    assert stats_json(capture, tmp_path)["truncated"] is False


HELD_WORKLOAD = """
import time

held = [bytearray(1_000_000) for _ in range(50)]  # HELD
print("ready", flush=True)
time.sleep(60)
"""


def test_a_kill_before_the_first_interval_reads_truncated_with_what_was_held(tmp_path):
    script = write_script(tmp_path, "held.py", HELD_WORKLOAD)
    capture = tmp_path / "early.mlyze"
    process = subprocess.Popen([*MEMLYZE, "run", "--aggregate", "-o", str(capture), str(script)],
                               cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # far less than the default interval of 60 s
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    stats = stats_json(capture, tmp_path)
    assert stats["aggregated"] is True
    assert stats["truncated"] is True, stats.get("truncation_note")
    held = bytearray_bytes(1_000_000, 50)
    assert_close(stats["peak_bytes"], held)
    assert_close(stats["leaked_bytes"], held)
    assert stats["top_leaks"][0]["line"] == line_of(script, "HELD")
    text = check(run_memlyze("stats", capture, cwd=tmp_path))
    assert "(truncated capture: figures cover what was written)" in text.stdout
    assert "capture is truncated" in text.stderr


def test_a_run_that_stops_before_the_first_interval_reads_complete(tmp_path):
    script = write_script(tmp_path, "held.py", HELD_WORKLOAD.replace("time.sleep(60)", "del held"))
    capture = tmp_path / "finished.mlyze"
    check(run_memlyze("run", "--aggregate", "-o", capture, script, cwd=tmp_path))
    stats = stats_json(capture, tmp_path)
    assert stats["truncated"] is False and stats["truncation_note"] in (None, "")
    assert_close(stats["peak_bytes"], bytearray_bytes(1_000_000, 50))
    assert stats["leaked_bytes"] < 1_000_000
