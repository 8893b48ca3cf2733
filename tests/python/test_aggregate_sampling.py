"""--aggregate with --sample-interval / --sample-rate (always-on production
use): the snapshot holds estimates of the whole program with 95% intervals
that hold the truth, the file stays bounded, and kill -9 leaves the latest
snapshot readable."""

import json
import os
import signal
import subprocess
import time

import memlyze
from conftest import (MEMLYZE, bytearray_bytes, check, clean_env, line_of, python, stats_json,
                      write_script)
from conftest import memlyze as run_memlyze

# argv: count size rounds seconds_after. Each bytearray(n) above 512 bytes
# is one malloc(n + 1) at the marked line; hold() keeps count of them, each
# round of churn() makes and frees 100 of 50_000 bytes.
WORKLOAD = """
import itertools, json, sys, time

def hold(count, size):
    return [bytearray(size) for _ in itertools.repeat(None, count)]  # HOLD

def churn():
    for _ in itertools.repeat(None, 100):
        temporary = bytearray(50_000)  # CHURN
        del temporary

def main(count, size, rounds, seconds_after):
    kept = hold(int(count), int(size))
    for _ in range(int(rounds)):
        churn()
        time.sleep(0.002)
    print("ready", flush=True)
    time.sleep(float(seconds_after))
    return kept

if sys.argv[1] == "tracker":  # tracker OPTIONS_JSON CAPTURE count size rounds seconds
    import memlyze
    with memlyze.Tracker(sys.argv[3], force=True, aggregate=True, aggregate_interval=0.05,
                         **json.loads(sys.argv[2])):
        kept = main(*sys.argv[4:])  # still held when the tracker stops
else:
    kept = main(*sys.argv[1:])
"""
CHURN_BLOCK = bytearray_bytes(50_000)
ENV = clean_env(PYTHONHASHSEED="0")


def workload(tmp_path):
    return write_script(tmp_path, "workload.py", WORKLOAD)


def record_cli(tmp_path, name, sampling, *arguments, interval="0.05"):
    capture = tmp_path / name
    check(run_memlyze("run", "-f", "--aggregate", "--aggregate-interval", interval,
                      *sampling, "-o", capture, workload(tmp_path), *arguments,
                      cwd=tmp_path, env=ENV))
    return capture


def record_tracker(tmp_path, name, options, *arguments):
    capture = tmp_path / name
    check(python(workload(tmp_path), "tracker", json.dumps(options), capture, *arguments,
                 cwd=tmp_path, env=ENV))
    return capture


def entry_at(entries, script, marker):
    for entry in entries:
        if entry["line"] == line_of(script, marker):
            return entry
    raise AssertionError(f"no entry for {marker} among {entries}")


def assert_within(value, truth, tolerance):
    assert abs(value - truth) <= tolerance * truth, (value, truth, value / truth)


def assert_covers(interval, truth):
    low, high = interval
    assert low <= truth <= high, (low, truth, high)


def check_estimates(stats, truth, script, hold_bytes, churn_bytes, hold_tolerance):
    """Sampled figures: estimates of the whole within tolerances, intervals
    holding the truth (truth: the same run recorded in full)."""
    assert stats["sampled"] is True and stats["aggregated"] is True
    held = entry_at(stats["top_by_peak"], script, "HOLD")
    assert stats["top_by_peak"][0] is held or stats["top_by_peak"][0] == held
    assert_within(held["bytes"], hold_bytes, hold_tolerance)
    assert_covers(held["bytes_ci95"], hold_bytes)
    leaked = entry_at(stats["top_leaks"], script, "HOLD")
    assert_covers(leaked["bytes_ci95"], hold_bytes)
    churned = entry_at(stats["top_by_total"], script, "CHURN")
    assert_within(churned["bytes"], churn_bytes, 0.12)
    assert_covers(churned["bytes_ci95"], churn_bytes)
    assert_within(stats["total_bytes"], truth["total_bytes"], 0.05)
    assert_covers(stats["total_bytes_ci95"], truth["total_bytes"])
    assert_within(stats["peak_bytes"], truth["peak_bytes"], 0.05)
    assert_covers(stats["peak_bytes_ci95"], truth["peak_bytes"])
    assert 0 < stats["peak_time_s"] <= stats["duration_s"]


def test_sample_interval_estimates_with_intervals(tmp_path):
    arguments = ("300", "1000000", "100", "0")
    script = workload(tmp_path)
    truth = stats_json(record_tracker(tmp_path, "full.mlyze", {}, *arguments), tmp_path)
    assert truth["sampled"] is False and truth["total_bytes_ci95"] is None
    capture = record_tracker(tmp_path, "sampled.mlyze",
                             {"sample_interval": "256KiB", "seed": 7}, *arguments)
    stats = stats_json(capture, tmp_path)
    assert stats["sample_interval"] == 256 * 1024
    check_estimates(stats, truth, script, bytearray_bytes(1_000_000, 300), 100 * 100 * CHURN_BLOCK,
                    0.03)


def test_cli_sample_interval_top_location(tmp_path):
    script = workload(tmp_path)
    capture = record_cli(tmp_path, "cli.mlyze", ("--sample-interval", "256KiB"),
                         "300", "1000000", "100", "0")
    stats = stats_json(capture, tmp_path)
    assert stats["sampled"] is True and stats["aggregated"] is True
    held = stats["top_by_peak"][0]
    assert held["line"] == line_of(script, "HOLD")
    assert_within(held["bytes"], bytearray_bytes(1_000_000, 300), 0.04)  # about 4 standard deviations
    low, high = held["bytes_ci95"]
    assert low <= held["bytes"] <= high and high - low < 0.05 * held["bytes"]
    low, high = stats["total_bytes_ci95"]
    assert low <= stats["total_bytes"] <= high


def test_sample_rate_estimates_with_intervals(tmp_path):
    # one allocation in ten: many smaller held blocks keep the error small
    arguments = ("20000", "10000", "100", "0")
    script = workload(tmp_path)
    truth = stats_json(record_cli(tmp_path, "full.mlyze", (), *arguments), tmp_path)
    # A fixed seed, as in the interval test above, so the run repeats on
    # every interpreter (test_sampling.py checks the coverage across seeds).
    capture = record_tracker(tmp_path, "rate.mlyze", {"sample_rate": 0.1, "seed": 7}, *arguments)
    stats = stats_json(capture, tmp_path)
    check_estimates(stats, truth, script, bytearray_bytes(10_000, 20_000), 100 * 100 * CHURN_BLOCK,
                    0.06)


def test_sampled_file_stays_bounded(tmp_path):
    sampling = ("--sample-interval", "256KiB")
    short = record_cli(tmp_path, "short.mlyze", sampling, "300", "1000000", "20", "0")
    long = record_cli(tmp_path, "long.mlyze", sampling, "300", "1000000", "1200", "0")
    short_size, long_size = os.path.getsize(short), os.path.getsize(long)
    assert long_size < 64 * 1024
    assert long_size < 2 * short_size + 4096, (short_size, long_size)
    assert not [name for name in os.listdir(os.path.dirname(long)) if ".tmp" in name]
    stats = stats_json(long, tmp_path)
    assert stats["sampled"] is True
    churned = entry_at(stats["top_by_total"], workload(tmp_path), "CHURN")
    assert_within(churned["bytes"], 1200 * 100 * CHURN_BLOCK, 0.1)


def test_sampled_snapshot_survives_sigkill(tmp_path):
    script = workload(tmp_path)
    capture = tmp_path / "killed.mlyze"
    process = subprocess.Popen(
        [*MEMLYZE, "run", "--aggregate", "--aggregate-interval", "0.05", "--sample-rate",
         "0.1", "-o", str(capture), str(script), "20000", "10000", "20", "60"],
        cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, text=True)
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
    assert stats["aggregated"] is True and stats["sampled"] is True
    assert stats["truncated"] is True  # it never stopped
    leaked = stats["top_leaks"][0]
    assert leaked["line"] == line_of(script, "HOLD")
    # This run need not repeat (the stream a thread draws depends on the
    # order threads first sample in, sampler.h, and a loaded CI machine has
    # given an estimate 9% high), so its 95% interval may miss the truth one
    # run in twenty: within 2.3 half-widths (4.5 standard deviations) it must be.
    truth = bytearray_bytes(10_000, 20_000)
    low, high = leaked["bytes_ci95"]
    assert abs(leaked["bytes"] - truth) <= 2.3 * (high - low) / 2, (low, leaked["bytes"], high)
    assert_within(leaked["bytes"], truth, 0.12)
    assert stats["leaked_bytes_ci95"][0] <= stats["leaked_bytes"] <= stats["leaked_bytes_ci95"][1]


def test_tracker_accepts_aggregate_with_sampling(tmp_path):
    tracker = memlyze.Tracker(tmp_path / "x.mlyze", aggregate=True, sample_interval="64KiB")
    assert tracker.aggregate and tracker.sample_interval == 64 * 1024
    tracker = memlyze.Tracker(tmp_path / "y.mlyze", aggregate=True, sample_rate=0.5)
    assert tracker.aggregate and tracker.sample_rate == 0.5
