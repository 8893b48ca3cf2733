"""Figures of captures of workloads whose allocations are known exactly."""

from pathlib import Path

from conftest import (BUFFER_ALLOCATOR, BYTEARRAY_ALLOCATIONS, CHURN_BYTES, FREE_THREADED,
                      HOLD_BYTES, LEAK_BYTES, assert_close, bytearray_bytes, check, find_location,
                      line_of, memlyze, stats_json, write_script)


def test_peak_is_the_held_memory(ground_truth):
    _, script, _, stats = ground_truth
    assert_close(stats["peak_bytes"], HOLD_BYTES)
    top = stats["top_by_peak"][0]
    assert (top["function"], Path(top["file"]).name, top["line"]) == (
        "hold", "workload.py", line_of(script, "HOLD"))
    assert_close(top["bytes"], HOLD_BYTES, 0.01)
    blocks = 200 * BYTEARRAY_ALLOCATIONS
    assert blocks <= top["count"] <= blocks + 2  # the blocks, and the list that holds them
    assert 0 <= stats["peak_time_s"] <= stats["duration_s"]


def test_leaks_are_what_the_module_keeps(ground_truth):
    _, script, _, stats = ground_truth
    assert_close(stats["leaked_bytes"], LEAK_BYTES)
    assert stats["leaked_allocations"] >= 100
    top = stats["top_leaks"][0]
    assert (top["function"], Path(top["file"]).name, top["line"]) == (
        "leak", "workload.py", line_of(script, "LEAK"))
    assert_close(top["bytes"], LEAK_BYTES, 0.01)
    blocks = 100 * BYTEARRAY_ALLOCATIONS
    assert blocks <= top["count"] <= blocks + 2  # the blocks, and the list that keeps them
    # hold() and churn() freed everything they allocated.
    assert find_location(stats["top_leaks"], "hold", "workload.py") is None
    assert find_location(stats["top_leaks"], "churn", "workload.py") is None


def test_totals_cover_every_allocation(ground_truth):
    _, script, _, stats = ground_truth
    assert stats["total_bytes"] >= HOLD_BYTES + LEAK_BYTES + CHURN_BYTES
    assert stats["total_allocations"] >= 400
    churn = find_location(stats["top_by_total"], "churn", "workload.py")
    assert churn is not None and churn["line"] == line_of(script, "CHURN")
    assert_close(churn["bytes"], CHURN_BYTES, 0.01)
    assert churn["count"] == 100 * BYTEARRAY_ALLOCATIONS
    malloc = stats["allocators"][BUFFER_ALLOCATOR]
    assert malloc["bytes"] >= HOLD_BYTES + LEAK_BYTES + CHURN_BYTES
    assert malloc["count"] >= 400
    # Power-of-two histogram: the 1 MB and 2 MB blocks are in their buckets.
    in_buckets = sum(bucket["count"] for bucket in stats["size_histogram"]
                     if bucket["min"] <= 1_000_001 <= bucket["max"]
                     or bucket["min"] <= 2_000_001 <= bucket["max"])
    assert in_buckets >= 400


THREADS = """
import threading

barrier = threading.Barrier(4)


def worker_a():
    blocks = []
    for _ in range(50):
        blocks.append(bytearray(1_000_000))  # A
    barrier.wait()  # all four threads hold their blocks at once


def worker_b():
    blocks = []
    for _ in range(50):
        blocks.append(bytearray(1_000_000))  # B
    barrier.wait()


def worker_c():
    blocks = []
    for _ in range(50):
        blocks.append(bytearray(1_000_000))  # C
    barrier.wait()


def worker_d():
    blocks = []
    for _ in range(50):
        blocks.append(bytearray(1_000_000))  # D
    barrier.wait()


threads = [threading.Thread(target=worker, name=worker.__name__)
           for worker in (worker_a, worker_b, worker_c, worker_d)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("joined")
"""


def test_threads_are_attributed_to_their_own_functions(tmp_path):
    script = write_script(tmp_path, "threads.py", THREADS)
    check(memlyze("run", "-o", "threads.mlyze", script, cwd=tmp_path))
    stats = stats_json(tmp_path / "threads.mlyze", tmp_path)
    assert_close(stats["peak_bytes"], bytearray_bytes(1_000_000, 4 * 50))
    for letter in "abcd":
        entry = find_location(stats["top_by_peak"], f"worker_{letter}", "threads.py")
        assert entry is not None, f"worker_{letter} missing from {stats['top_by_peak']}"
        assert entry["line"] == line_of(script, letter.upper())
        assert_close(entry["bytes"], bytearray_bytes(1_000_000, 50), 0.01)
        blocks = 50 * BYTEARRAY_ALLOCATIONS
        assert blocks <= entry["count"] <= blocks + 2
    assert len(stats["threads"]) >= 5  # the main thread and the four workers


SMALL_OBJECTS = """
def make_small():
    keep = []
    for number in range(100_000):
        keep.append([number, number])  # SMALL
    return keep


kept = make_small()
print(len(kept))
"""


def test_python_allocators_capture_small_objects(tmp_path):
    script = write_script(tmp_path, "small.py", SMALL_OBJECTS)
    check(memlyze("run", "--python-allocators", "-o", "small.mlyze", script, cwd=tmp_path))
    stats = stats_json(tmp_path / "small.mlyze", tmp_path)
    top = stats["top_by_peak"][0]
    assert (top["function"], Path(top["file"]).name, top["line"]) == (
        "make_small", "small.py", line_of(script, "SMALL"))
    # Each iteration makes a list object and its item array (the int comes
    # from the `for` line).
    assert top["count"] >= 190_000
    assert top["bytes"] >= 100_000 * 64
    assert stats["allocators"]["pymalloc"]["count"] >= 250_000


def test_default_mode_records_pymalloc_only_where_it_must(tmp_path):
    script = write_script(tmp_path, "small.py", SMALL_OBJECTS)
    check(memlyze("run", "-o", "small.mlyze", script, cwd=tmp_path))
    stats = stats_json(tmp_path / "small.mlyze", tmp_path)
    assert stats["free_threaded"] is FREE_THREADED
    assert stats["python_allocators"] is FREE_THREADED
    if FREE_THREADED:
        # mimalloc serves every Python object: without its domains the
        # capture would hold next to nothing of the program.
        top = stats["top_by_peak"][0]
        assert (top["function"], top["line"]) == ("make_small", line_of(script, "SMALL"))
        assert top["count"] >= 190_000
        return
    assert stats["allocators"].get("pymalloc", {"count": 0})["count"] == 0
    # The small objects live in pymalloc's arenas, seen as anonymous mappings.
    assert stats["allocators"]["mmap"]["count"] >= 1


def test_record_and_run_give_the_same_result(ground_truth, tmp_path):
    directory, script, _, run_stats = ground_truth
    capture = tmp_path / "recorded.mlyze"
    result = check(memlyze("record", "-o", capture, __import__("sys").executable, script,
                           cwd=directory))
    assert result.stdout == "held 200\nleaked 100\n"
    record_stats = stats_json(capture, directory)
    assert_close(record_stats["peak_bytes"], run_stats["peak_bytes"], 0.02)
    assert_close(record_stats["leaked_bytes"], run_stats["leaked_bytes"], 0.05)
    for key in ("top_by_peak", "top_leaks"):
        first, second = record_stats[key][0], run_stats[key][0]
        assert (first["function"], first["file"], first["line"], first["count"]) == (
            second["function"], second["file"], second["line"], second["count"])
        assert first["bytes"] == second["bytes"]
