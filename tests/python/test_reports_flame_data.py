"""build_flame_data(): the contract the flame graph page codes against, and its
figures on ground-truth workloads (selections, snapshots, threads, filters,
temporal intervals)."""

from pathlib import Path

import pytest

from conftest import CHURN_BYTES, HOLD_BYTES, LEAK_BYTES, assert_close, check, memlyze, write_script

from memlyze.reports.flame_data import build_flame_data
from memlyze.reports.report_data import ReportError

META_KEYS = {"command": str, "pid": int, "python_version": str, "duration_s": float,
             "peak_bytes": int, "peak_time_s": float, "total_bytes": int, "total_count": int,
             "selection": str, "selection_label": str, "inverted": bool, "sampled": bool,
             "sample_description": str, "truncated": bool, "node_count": int,
             "other_threshold_bytes": int}


def check_contract(data):
    assert set(data) == {"meta", "strings", "nodes", "timeline", "temporal", "marks"}
    for key, kind in META_KEYS.items():
        assert isinstance(data["meta"][key], kind), (key, data["meta"][key])
    strings, nodes = data["strings"], data["nodes"]
    assert strings[0] == ""
    count = data["meta"]["node_count"]
    assert count <= 50_000
    for column in ("parent", "function", "file", "line", "bytes", "count", "self_bytes"):
        assert len(nodes[column]) == count, column
    assert nodes["parent"][0] == -1 and strings[nodes["function"][0]] == "<all>"
    marks = data["marks"] or {"thread": [], "trimmed": []}
    assert all(nodes["parent"][node] == 0 for node in marks["thread"])
    assert all(0 < node < count for node in marks["trimmed"])
    children_bytes = [0] * count
    for index in range(1, count):
        parent = nodes["parent"][index]
        assert 0 <= parent < index  # parents precede children
        children_bytes[parent] += nodes["bytes"][index]
    for index in range(count):
        assert nodes["bytes"][index] == nodes["self_bytes"][index] + children_bytes[index]
        assert 0 <= nodes["function"][index] < len(strings)
        assert 0 <= nodes["file"][index] < len(strings)
    assert data["meta"]["total_bytes"] == nodes["bytes"][0]
    timeline = data["timeline"]
    assert len(timeline["time_s"]) == len(timeline["heap_bytes"]) <= 2000
    assert len(timeline["rss_time_s"]) == len(timeline["rss_bytes"])
    assert max(timeline["heap_bytes"]) == timeline["peak_bytes"] == data["meta"]["peak_bytes"]


def node_of(data, function, file_name=None):
    """Index of the (first) node of a function, or None."""
    strings, nodes = data["strings"], data["nodes"]
    for index, function_index in enumerate(nodes["function"]):
        if strings[function_index] == function and (
                file_name is None or Path(strings[nodes["file"][index]]).name == file_name):
            return index
    return None


def test_peak_contract_and_figures(ground_truth):
    directory, script, capture, stats = ground_truth
    data = build_flame_data(capture, progress=None)
    check_contract(data)
    meta = data["meta"]
    assert meta["selection"] == "peak" and not meta["sampled"]
    assert meta["sample_description"] == "full capture: every allocation"
    assert meta["peak_bytes"] == stats["peak_bytes"]
    assert meta["total_bytes"] == stats["peak_bytes"]
    assert abs(meta["peak_time_s"] - stats["peak_time_s"]) < 1e-6
    hold = node_of(data, "hold", "workload.py")
    assert hold is not None
    assert_close(data["nodes"]["bytes"][hold], HOLD_BYTES, 0.01)
    # outermost first: hold's parent is main, whose parent is <module>
    parent = data["nodes"]["parent"][hold]
    assert data["strings"][data["nodes"]["function"][parent]] == "main"
    assert data["temporal"] is None


def test_leaks_temporary_and_inverted(ground_truth):
    directory, script, capture, stats = ground_truth
    leaks = build_flame_data(capture, selection="leaks", inverted=True, progress=None)
    check_contract(leaks)
    leak = node_of(leaks, "leak", "workload.py")
    assert leaks["nodes"]["parent"][leak] == 0  # inverted: the allocating function on top
    assert_close(leaks["nodes"]["bytes"][leak], LEAK_BYTES, 0.01)
    assert node_of(leaks, "hold", "workload.py") is None
    temporary = build_flame_data(capture, selection="temporary", progress=None)
    check_contract(temporary)
    churn = node_of(temporary, "churn", "workload.py")
    assert_close(temporary["nodes"]["bytes"][churn], CHURN_BYTES, 0.01)
    assert "temporary" in temporary["meta"]["selection_label"]


def test_include_exclude(ground_truth):
    directory, script, capture, stats = ground_truth
    only = build_flame_data(capture, selection="total", include=("churn",), progress=None)
    assert_close(only["meta"]["total_bytes"], CHURN_BYTES, 0.01)
    without = build_flame_data(capture, selection="total", exclude=("churn", "hold"),
                               progress=None)
    assert node_of(without, "churn") is None and node_of(without, "hold") is None
    assert node_of(without, "leak", "workload.py") is not None
    by_file = build_flame_data(capture, include=("workload.py",), progress=None)
    assert_close(by_file["meta"]["total_bytes"], HOLD_BYTES, 0.01)


def test_bounding_folds_small_nodes_into_other(ground_truth):
    directory, script, capture, stats = ground_truth
    data = build_flame_data(capture, selection="total", min_share=0.3, progress=None)
    check_contract(data)
    assert data["meta"]["truncated"]
    other = node_of(data, "other")
    assert other is not None and data["strings"][data["nodes"]["file"][other]] == ""
    assert data["meta"]["other_threshold_bytes"] > 0
    exact = build_flame_data(capture, selection="total", min_share=0.0, progress=None)
    assert exact["meta"]["total_bytes"] == data["meta"]["total_bytes"]


def test_temporal_intervals_sum_to_what_was_allocated(ground_truth):
    directory, script, capture, stats = ground_truth
    data = build_flame_data(capture, temporal=True, progress=None)
    check_contract(data)
    temporal = data["temporal"]
    edges = temporal["bucket_edges_s"]
    assert 2 <= len(edges) <= 201 and edges == sorted(edges)
    assert edges[-1] >= data["meta"]["duration_s"] - 1e-9
    columns = ("node", "alloc_bucket", "free_bucket", "bytes", "count")
    assert len({len(temporal[column]) for column in columns}) == 1
    assert sum(temporal["bytes"]) == stats["total_bytes"]
    never = sum(b for b, free in zip(temporal["bytes"], temporal["free_bucket"]) if free == -1)
    assert never == stats["leaked_bytes"]
    for alloc, free in zip(temporal["alloc_bucket"], temporal["free_bucket"]):
        assert 0 <= alloc < len(edges) - 1 and (free == -1 or alloc <= free < len(edges) - 1)
    # leak's allocations, never freed, hang off the leak node
    leak = node_of(data, "leak", "workload.py")
    leaked = sum(b for node, b, free in zip(temporal["node"], temporal["bytes"],
                                            temporal["free_bucket"]) if node == leak and free == -1)
    assert_close(leaked, LEAK_BYTES, 0.01)


SNAPSHOTS_AND_THREADS = """
import threading
import memlyze

kept = []


def first():
    kept.append(bytearray(3_000_000))  # FIRST


def second():
    kept.append(bytearray(5_000_000))  # SECOND


def worker():
    kept.append(bytearray(7_000_000))  # WORKER


with memlyze.Tracker("snapshots.mlyze", force=True) as tracker:
    first()
    tracker.snapshot()
    second()
    thread = threading.Thread(target=worker, name="the-worker")
    thread.start()
    thread.join()
    tracker.snapshot()
"""


@pytest.fixture(scope="module")
def snapshots_capture(tmp_path_factory):
    directory = tmp_path_factory.mktemp("snapshots")
    script = write_script(directory, "snapshots.py", SNAPSHOTS_AND_THREADS)
    from conftest import python

    check(python(script, cwd=directory))
    return directory, directory / "snapshots.mlyze"


def test_snapshots(snapshots_capture):
    directory, capture = snapshots_capture
    one = build_flame_data(capture, selection="snapshot", snapshot=1, progress=None)
    two = build_flame_data(capture, snapshot=2, progress=None)
    assert one["meta"]["selection"] == two["meta"]["selection"] == "snapshot"
    assert node_of(one, "first") is not None and node_of(one, "second") is None
    assert_close(two["meta"]["total_bytes"], 15_000_003, 0.02)
    with pytest.raises(ReportError, match="capture has 2 snapshots; --snapshot 99 does not exist"):
        build_flame_data(capture, snapshot=99, progress=None)


def test_threads(snapshots_capture):
    directory, capture = snapshots_capture
    main = build_flame_data(capture, selection="leaks", thread="MainThread", progress=None)
    assert node_of(main, "worker") is None and node_of(main, "first") is not None
    from memlyze.reports.report_data import open_report

    threads = open_report(capture, progress=None).threads()
    others = [thread_id for thread_id, _, name in threads if name != "MainThread"]
    by_id = [build_flame_data(capture, selection="leaks", thread=thread_id, progress=None)
             for thread_id in others]
    worker = [data for data in by_id if node_of(data, "worker") is not None]
    assert len(worker) == 1 and node_of(worker[0], "first") is None
    assert_close(worker[0]["meta"]["total_bytes"], 7_000_001, 0.01)
    split = build_flame_data(capture, selection="leaks", split_threads=True, progress=None)
    check_contract(split)
    labels = [split["strings"][split["nodes"]["function"][index]]
              for index, parent in enumerate(split["nodes"]["parent"]) if parent == 0]
    assert len(labels) >= 2 and all(label.startswith("thread ") for label in labels), labels
    # the page's data: split, its thread nodes marked, the page starting merged
    controls = build_flame_data(capture, selection="leaks", page_controls=True, progress=None)
    check_contract(controls)
    assert controls["meta"]["split_threads"] is False
    marked = [controls["strings"][controls["nodes"]["function"][node]]
              for node in controls["marks"]["thread"]]
    assert sorted(marked) == sorted(labels) and controls["marks"]["trimmed"] == []
    with pytest.raises(ReportError, match="no thread"):
        build_flame_data(capture, thread="no-such-thread", progress=None)


RANGES = """
import time

kept = {}


def early():
    kept["a"] = bytearray(4_000_000)


def late():
    kept["b"] = bytearray(6_000_000)


early()
time.sleep(0.3)
late()
time.sleep(0.3)
del kept["a"]
time.sleep(0.3)
"""


def test_time_range_selection(tmp_path):
    script = write_script(tmp_path, "ranges.py", RANGES)
    check(memlyze("run", "-o", "ranges.mlyze", script, cwd=tmp_path))
    capture = tmp_path / "ranges.mlyze"
    timeline = build_flame_data(capture, progress=None)["timeline"]
    points = list(zip(timeline["time_s"], timeline["heap_bytes"]))
    early_time = next(time for time, heap in points if heap >= 4_000_000)
    late_time = next(time for time, heap in points if heap >= 10_000_000)
    assert late_time - early_time > 0.2

    both = build_flame_data(capture, time_range=(0, late_time + 0.1), progress=None)
    assert both["meta"]["selection"] == "range" and "between" in both["meta"]["selection_label"]
    assert node_of(both, "early") is not None and node_of(both, "late") is not None
    only_late = build_flame_data(capture, time_range=(early_time + 0.1, late_time + 0.1),
                                 progress=None)
    assert node_of(only_late, "early") is None
    assert_close(only_late["nodes"]["bytes"][node_of(only_late, "late")], 6_000_001, 0.001)
    to_the_end = build_flame_data(capture, time_range=(0, 1e6), progress=None)
    assert node_of(to_the_end, "early") is None and node_of(to_the_end, "late") is not None
    nothing = build_flame_data(capture, time_range=(1e5, 1e6), progress=None)
    assert nothing["meta"]["total_bytes"] == 0 and nothing["meta"]["node_count"] == 1


def test_sampled_capture_figures_are_the_estimates_of_stats(tmp_path):
    from conftest import GROUND_TRUTH, stats_json

    script = write_script(tmp_path, "workload.py", GROUND_TRUTH)
    check(memlyze("run", "--sample-interval", "512KiB", "-o", "sampled.mlyze", script,
                  cwd=tmp_path))
    capture = tmp_path / "sampled.mlyze"
    stats = stats_json(capture, tmp_path)
    assert stats["sampled"]
    meta = build_flame_data(capture, progress=None)["meta"]
    assert meta["sampled"] and meta["sample_description"].startswith("sampled every 512")
    assert_close(meta["peak_bytes"], stats["peak_bytes"], 0.001)
    total = build_flame_data(capture, selection="total", progress=None)["meta"]
    assert_close(total["total_bytes"], stats["total_bytes"], 0.001)
    leaks = build_flame_data(capture, selection="leaks", progress=None)["meta"]
    assert_close(leaks["total_bytes"], stats["leaked_bytes"], 0.001)
