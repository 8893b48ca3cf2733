"""memlyze stats with the report selectors: the "selection" key of --json
(what each figure follows: reports/selection_figures.py), the whole run's
keys unchanged, the text report's two parts, and the refusals."""

import json

import pytest

from conftest import (BYTEARRAY_ALLOCATIONS, assert_one_line_error, bytearray_bytes, check,
                      line_of, memlyze, stats_json)
from function_workload import (IMPORTED_BYTES, LEAF_OWN, RECURSE_OWN, WORKER_BYTES,
                               record_workload)

OURS = RECURSE_OWN + LEAF_OWN + WORKER_BYTES + IMPORTED_BYTES


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    directory = tmp_path_factory.mktemp("stats_selection")
    script, capture = record_workload(directory)
    return directory, script, capture, stats_json(capture, directory)


def stats_selection(capture, directory, *arguments):
    result = check(memlyze("stats", "--json", *arguments, capture, cwd=directory))
    return json.loads(result.stdout)


def test_whole_run_keys_do_not_change_and_selection_is_added(workload):
    directory, script, capture, whole = workload
    assert "selection" not in whole  # no selector: the output it always was
    document = stats_selection(capture, directory, "--thread", "side-worker")
    selection = document.pop("selection")
    assert document == whole
    assert selection["thread"].startswith("side-worker")
    # The thread's stacks: its block (and the thread's own start-up, a few
    # KiB), held at the peak (the default selection) and never freed.
    assert selection["selection"] == "peak"
    assert selection["bytes"] == selection["held_at_peak_bytes"]
    assert WORKER_BYTES <= selection["bytes"] < WORKER_BYTES + 200_000
    assert WORKER_BYTES <= selection["leaked_bytes"] <= selection["total_bytes"]
    assert selection["total_bytes"] < WORKER_BYTES + 1_000_000  # nothing of the main thread
    top = selection["top"][0]
    assert (top["function"], top["line"], top["bytes"]) == ("worker", line_of(script, "WORKER"),
                                                            WORKER_BYTES)
    assert top["count"] == BYTEARRAY_ALLOCATIONS


def test_leaks_selection_with_include(workload):
    directory, script, capture, whole = workload
    selection = stats_selection(capture, directory, "--leaks", "--include", "workload.py",
                                "--include", "heavy_import.py")["selection"]
    assert selection["selection"] == "leaks"
    assert selection["include"] == ["workload.py", "heavy_import.py"]
    assert selection["bytes"] >= OURS
    assert selection["bytes"] == selection["leaked_bytes"]  # --leaks selects the leaks
    lines = {(entry["function"], entry["line"]): entry["bytes"] for entry in selection["top"]}
    assert lines[("recurse", line_of(script, "RECURSE"))] == RECURSE_OWN
    assert lines[("<module>", line_of(directory / "heavy_import.py", "IMPORTED"))] == \
        IMPORTED_BYTES
    whole_leaked = whole["leaked_bytes"]
    assert selection["leaked_bytes"] <= whole_leaked
    excluded = stats_selection(capture, directory, "--leaks", "--exclude", "recurse")["selection"]
    # Every stack through recurse: its four blocks and the leaf block it calls for.
    assert excluded["bytes"] == whole_leaked - RECURSE_OWN - bytearray_bytes(3_000_000)


def test_stats_text_shows_the_selection_then_the_whole_run(workload):
    directory, script, capture, whole = workload
    text = check(memlyze("stats", "--leaks", "--thread", "side-worker", capture,
                         cwd=directory)).stdout
    selection_part, _, whole_part = text.partition(
        "Whole run (a selection does not change these figures):")
    assert whole_part, text
    assert selection_part.startswith("Selection:       memory still allocated when tracking "
                                     "stopped (leaks); thread side-worker")
    assert "Top locations of the selection (by bytes):" in selection_part
    assert f"worker {script}:{line_of(script, 'WORKER')}" in selection_part
    assert "recurse" not in selection_part
    assert "Allocators:" in whole_part and "recurse" in whole_part


@pytest.mark.parametrize("arguments, message, status", [
    (["--native-frames", "all"], "unrecognized arguments", 2),
    (["--temporary-threshold", "2"], "--temporary-threshold needs --temporary", 2),
    (["--thread", "nobody"], "no thread 'nobody'", 1),
    (["--snapshot", "1"], "--snapshot 1 does not exist", 1),
])
def test_stats_refusals(workload, arguments, message, status):
    directory, script, capture, whole = workload
    result = memlyze("stats", *arguments, capture, cwd=directory)
    assert_one_line_error(result)
    assert message in result.stderr and result.returncode == status


def test_stats_merge_with_a_selection_is_refused(workload):
    directory, script, capture, whole = workload
    result = memlyze("stats", "--merge", "--leaks", capture, capture, cwd=directory)
    assert_one_line_error(result)
    assert "--merge sums whole-run figures" in result.stderr and result.returncode == 2
