"""Sampled recordings: options, estimates of the whole, and 95% intervals
that hold the truth as often as they promise."""

import statistics
import sys

import pytest

from conftest import (BYTEARRAY_ALLOCATIONS, REPO, assert_one_line_error, bytearray_bytes, check,
                      clean_env, memlyze, stats_json, write_script)
from conftest import python as python_run

sys.path.insert(0, str(REPO / "benchmarks"))
import sampling_accuracy  # noqa: E402

# Every tenth allocation is large: a fixed stride of 10 would always (or
# never) land on the large ones and be off by a factor of up to 5.
# The loops iterate over cached small ints or None: a range beyond 256 would
# allocate an int per turn, recorded where Python's allocators are.
PERIODIC = """
import itertools


def periodic():
    for index in itertools.islice(itertools.cycle(range(10)), 2_000_000):
        block = bytearray(5000) if index == 0 else bytearray(600)
        del block


periodic()
"""
PERIODIC_BYTES = bytearray_bytes(5000, 200_000) + bytearray_bytes(600, 1_800_000)
PERIODIC_COUNT = 2_000_000 * BYTEARRAY_ALLOCATIONS


@pytest.fixture(scope="module")
def periodic_script(tmp_path_factory):
    directory = tmp_path_factory.mktemp("periodic")
    return directory, write_script(directory, "periodic.py", PERIODIC)


def location(stats, function):
    for entry in stats["top_by_total"]:
        if entry["function"] == function:
            return entry
    raise AssertionError(f"{function} is not among the top locations")


def test_every_nth_sampling_is_unbiased_on_a_periodic_loop(periodic_script):
    directory, script = periodic_script
    capture = directory / "rate.mlyze"
    check(memlyze("run", "-f", "-o", capture, "--sample-rate", "0.1", script, cwd=directory))
    stats = stats_json(capture, directory)
    assert stats["sampled"] is True and stats["sample_rate"] == pytest.approx(0.1)
    entry = location(stats, "periodic")
    assert abs(entry["bytes"] - PERIODIC_BYTES) <= 0.02 * PERIODIC_BYTES, entry
    assert abs(entry["count"] - PERIODIC_COUNT) <= 0.02 * PERIODIC_COUNT, entry
    low, high = entry["bytes_ci95"]
    assert low <= PERIODIC_BYTES <= high
    # About one allocation in ten was written to the capture.
    raw = sum(1 for record in _records(capture) if record[0] == "alloc")
    assert 0.08 * PERIODIC_COUNT <= raw <= 0.12 * PERIODIC_COUNT


def _records(capture):
    from memlyze import _memlyze

    with _memlyze.CaptureFile(str(capture)) as capture_file:
        yield from capture_file.records()


def test_sample_rate_runs_repeat_exactly(periodic_script):
    directory, script = periodic_script
    figures = []
    for name in ("first", "second"):
        capture = directory / f"{name}.mlyze"
        check(memlyze("run", "-f", "-o", capture, "--sample-rate", "0.05", script,
                      cwd=directory))
        stats = stats_json(capture, directory)
        figures.append((stats["total_allocations"], stats["total_bytes"]))
    assert figures[0] == figures[1]


def test_byte_sampling_with_a_seed_repeats_and_without_differs(periodic_script):
    directory, script = periodic_script
    figures = []
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        capture = directory / f"seed-{name}.mlyze"
        check(memlyze("run", "-f", "-o", capture, "--sample-interval", "256KiB", script,
                      cwd=directory, env=clean_env(MEMLYZE_SEED=seed)))
        figures.append(stats_json(capture, directory)["total_bytes"])
    assert figures[0] == figures[1]
    assert figures[0] != figures[2]


def test_byte_sampling_estimates_and_intervals(periodic_script):
    directory, script = periodic_script
    capture = directory / "bytes.mlyze"
    check(memlyze("run", "-f", "-o", capture, "--sample-interval", "512KiB", script,
                  cwd=directory, env=clean_env(MEMLYZE_SEED="3")))
    stats = stats_json(capture, directory)
    assert stats["sampled"] is True and stats["sample_interval"] == 512 * 1024
    low, high = stats["total_bytes_ci95"]
    assert low <= stats["total_bytes"] <= high
    assert low <= PERIODIC_BYTES <= high
    assert abs(stats["total_bytes"] - PERIODIC_BYTES) <= 0.1 * PERIODIC_BYTES
    assert stats["peak_bytes_ci95"][0] <= stats["peak_bytes"] <= stats["peak_bytes_ci95"][1]
    for entry in stats["top_by_total"]:
        assert entry["bytes_ci95"][0] <= entry["bytes"] <= entry["bytes_ci95"][1]


def test_full_captures_have_no_intervals(periodic_script):
    directory, script = periodic_script
    capture = directory / "full.mlyze"
    check(memlyze("run", "-f", "-o", capture, script, cwd=directory))
    stats = stats_json(capture, directory)
    assert stats["sampled"] is False
    assert stats["total_bytes_ci95"] is None and stats["peak_bytes_ci95"] is None
    assert all(entry["bytes_ci95"] is None for entry in stats["top_by_total"])
    assert location(stats, "periodic")["bytes"] == PERIODIC_BYTES


def test_intervals_cover_the_truth_across_seeds():
    """A small version of benchmarks/sampling_accuracy.py (200 runs, 1 GiB)."""
    results = sampling_accuracy.run_study(runs=24, interval="512KiB", scale=0.15,
                                          first_seed=1000, progress=False)
    assert len(results) == 7  # total, peak and five locations
    for name, result in results.items():
        coverage = result["covered"] / result["runs"]
        assert coverage >= 0.8, (name, result)
        # Unbiased: the mean error is within three standard errors of zero.
        errors = result["relative_errors"]
        mean_error = statistics.fmean(errors)
        standard_error = statistics.stdev(errors) / len(errors) ** 0.5
        assert abs(mean_error) <= 3 * standard_error + 0.005, (name, mean_error, standard_error)


MISSED_BLOCKS = """
import json, sys, tempfile
sys.path.insert(0, sys.argv[1])
from sampling_accuracy import record_in_process

def ten_blocks(kept):
    for _ in range(10):
        kept.append(bytes(1 << 20))

with tempfile.TemporaryDirectory() as directory:
    truth = record_in_process(directory, ten_blocks, python_allocators=False)["total_bytes"]
    runs = [record_in_process(directory, ten_blocks, python_allocators=False, seed=seed,
                              sample_interval=256 * 1024)
            for seed in range(1, 61)]
print(json.dumps({"truth": truth,
                  "runs": [(run["total_bytes"], run["total_bytes_ci95"]) for run in runs]}))
"""


def test_intervals_reach_a_missed_large_block(tmp_path):
    """Ten blocks of 1 MiB at a 256 KiB interval: each is kept with p = 98%,
    so most runs miss none, and one in six misses one. A normal interval of
    the estimate's standard deviation (1.96 sd = 0.84 block) then never held
    the truth (issue 14); those runs' intervals must reach it."""
    script = write_script(tmp_path, "missed.py", MISSED_BLOCKS)
    result = check(python_run(script, REPO / "benchmarks", cwd=tmp_path))
    import json

    found = json.loads(result.stdout)
    truth = found["truth"]
    missed = [(estimate, ci) for estimate, ci in found["runs"]
              if truth - 1.5 * 2**20 < estimate < truth - 0.5 * 2**20]
    assert len(missed) >= 4, found  # the seeds are fixed: this many runs miss one block
    assert all(low <= truth <= high for estimate, (low, high) in missed), (truth, missed)
    held = [low <= truth <= high for estimate, (low, high) in found["runs"]]
    assert sum(held) >= 0.9 * len(held)


def test_set_sample_rate_while_running(tmp_path):
    script = write_script(tmp_path, "change.py", """
        import itertools
        import sys
        import memlyze

        def before():
            for _ in itertools.repeat(None, 200_000):
                block = bytearray(1000)
                del block

        def after():
            for _ in itertools.repeat(None, 200_000):
                block = bytearray(1000)
                del block

        with memlyze.Tracker(sys.argv[1], sample_rate=0.5) as tracker:
            before()
            tracker.set_sample_rate(0.01)
            after()
            try:
                memlyze.Tracker(sys.argv[1] + ".x").start()
            except memlyze.TrackerError:
                pass
    """)
    capture = tmp_path / "change.mlyze"
    from conftest import python

    check(python(script, capture, cwd=tmp_path))
    stats = stats_json(capture, tmp_path)
    for function in ("before", "after"):
        entry = location(stats, function)
        blocks = 200_000 * BYTEARRAY_ALLOCATIONS
        assert abs(entry["count"] - blocks) <= 0.1 * blocks, entry
    raw = [record for record in _records(capture) if record[0] == "alloc"]
    kept = 100_000 * BYTEARRAY_ALLOCATIONS  # half of before's, a hundredth of after's
    assert kept * 0.9 <= len(raw) <= kept * 1.1 + 2_000 * 1.5 * BYTEARRAY_ALLOCATIONS


def test_set_sample_rate_needs_a_sampled_recording(tmp_path):
    import memlyze

    with memlyze.Tracker(tmp_path / "full.mlyze") as tracker:
        with pytest.raises(ValueError, match="sample_rate < 1"):
            tracker.set_sample_rate(0.5)


@pytest.mark.parametrize("arguments", [
    ["--sample-rate", "0"],
    ["--sample-rate", "1.5"],
    ["--sample-rate", "abc"],
    ["--sample-rate", "1e-12"],
    ["--sample-interval", "2TiB"],
    ["--sample-interval", "-1"],
    ["--sample-interval", "12 parsecs"],
    ["--sample-rate", "0.5", "--sample-interval", "1MiB"],
])
def test_bad_sampling_options(tmp_path, arguments):
    script = write_script(tmp_path, "ran.py", "open('ran', 'w').write('yes')\n")
    result = memlyze("run", "-o", tmp_path / "bad.mlyze", *arguments, script, cwd=tmp_path)
    assert_one_line_error(result)
    assert not (tmp_path / "ran").exists()


def test_tracker_rejects_bad_sampling(tmp_path):
    import memlyze

    for options, error in (({"sample_rate": 0}, ValueError), ({"sample_rate": 2}, ValueError),
                           ({"sample_rate": 1e-12}, ValueError),
                           ({"sample_interval": 2**41}, ValueError),
                           ({"sample_interval": -5}, ValueError),
                           ({"sample_rate": 0.5, "sample_interval": 4096}, ValueError),
                           ({"seed": "x"}, TypeError)):
        with pytest.raises(error):
            memlyze.Tracker(tmp_path / "x.mlyze", **options)
