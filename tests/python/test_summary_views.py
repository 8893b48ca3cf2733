"""memlyze summary with the report selectors and the own/total view by
function (--by-function, --sort), on a workload whose figures per function
are known exactly (function_workload.py), and the refusals of options that do
not go together."""

import re

import pytest

from conftest import (CHURN_BYTES, LEAK_BYTES, assert_one_line_error, check, line_of, memlyze)
from function_workload import (IMPORTED_BYTES, LEAF_COUNT, LEAF_OWN, MAIN_LEAF_BYTES,
                               RECURSE_OWN, RECURSE_OWN_COUNT, RECURSE_TOTAL,
                               RECURSE_TOTAL_COUNT, WORKER_BYTES, record_workload)


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    directory = tmp_path_factory.mktemp("functions")
    script, capture = record_workload(directory)
    return directory, script, capture


def rows_of(text: str) -> list[list[str]]:
    """The table rows of a summary: the cells split on runs of 2+ spaces."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.lstrip().startswith("---"))
    return [re.split(r"\s{2,}", line.strip()) for line in lines[start + 1:]
            if line.strip() and not line.strip().startswith("...")]


def function_row(rows, function):
    return next(row for row in rows if row[-1].split()[0] == function)


def test_function_figures_are_exact_with_recursion(workload):
    from memlyze.reports.function_totals import report_function_rows
    from memlyze.reports.report_data import open_report

    directory, script, capture = workload
    for selection in ("peak", "leaks"):
        rows = {row["function"]: row for row in report_function_rows(
            open_report(capture, selection=selection, progress=None))
            if row["file"] == str(script)}
        recurse, leaf = rows["recurse"], rows["leaf"]
        # Four recurse frames on one stack: its total counts the leaf's block once.
        assert (recurse["own_bytes"], recurse["total_bytes"]) == (RECURSE_OWN, RECURSE_TOTAL)
        assert (recurse["own_count"], recurse["total_count"]) == (RECURSE_OWN_COUNT,
                                                                  RECURSE_TOTAL_COUNT)
        assert (leaf["own_bytes"], leaf["total_bytes"]) == (LEAF_OWN, LEAF_OWN)
        assert (leaf["own_count"], leaf["total_count"]) == (LEAF_COUNT, LEAF_COUNT)
        assert rows["worker"]["own_bytes"] == rows["worker"]["total_bytes"] == WORKER_BYTES
        # main calls recurse, leaf and the import (and starts the thread).
        assert rows["main"]["total_bytes"] >= RECURSE_TOTAL + MAIN_LEAF_BYTES + IMPORTED_BYTES
        assert rows["main"]["own_bytes"] < rows["main"]["total_bytes"] - RECURSE_TOTAL


def test_by_function_table_and_its_orders(workload):
    from memlyze import formatting as fmt

    directory, script, capture = workload
    text = check(memlyze("summary", "--by-function", "--leaks", "-n", "40", capture,
                         cwd=directory)).stdout
    assert "memory still allocated when tracking stopped" in text
    assert "total counts a recursive function once per stack" in text
    rows = rows_of(text)
    recurse = function_row(rows, "recurse")
    assert recurse[0] == fmt.human_bytes(RECURSE_TOTAL)  # total
    assert recurse[2] == fmt.human_bytes(RECURSE_OWN)    # own
    assert recurse[4] == fmt.human_count(RECURSE_TOTAL_COUNT)
    assert recurse[5].endswith("workload.py")
    totals = [function_row(rows, name) for name in ("main", "recurse", "leaf")]
    assert [rows.index(row) for row in totals] == sorted(rows.index(row) for row in totals)

    by_own = rows_of(check(memlyze("summary", "--by-function", "--sort", "own", "--leaks",
                                   "-n", "1000", capture, cwd=directory)).stdout)
    own_order = [row[-1].split()[0] for row in by_own]
    # own: heavy_import's <module> (4 MB) > recurse (4 x 1 MB) > leaf (3.5 MB) > worker (2 MB)
    assert own_order.index("recurse") < own_order.index("leaf") < own_order.index("worker")
    assert own_order.index("main") > own_order.index("worker")  # main allocates little itself
    header = next(line for line in check(memlyze(
        "summary", "--by-function", "--sort", "count", capture, cwd=directory)).stdout.splitlines()
        if "function" in line and "%" in line)
    assert "<count>" in header and "<total>" not in header


def test_summary_selectors_choose_the_rows(ground_truth):
    directory, script, capture, stats = ground_truth
    from memlyze import formatting as fmt

    leaks = check(memlyze("summary", "--leaks", capture, cwd=directory)).stdout
    assert "memory still allocated when tracking stopped (leaks)" in leaks
    first = rows_of(leaks)[0]
    assert first[-1] == f"leak {script}:{line_of(script, 'LEAK')}"
    assert first[0] == fmt.human_bytes(LEAK_BYTES)
    temporary = rows_of(check(memlyze("summary", "--temporary", capture, cwd=directory)).stdout)
    assert temporary[0][-1] == f"churn {script}:{line_of(script, 'CHURN')}"
    assert temporary[0][0] == fmt.human_bytes(CHURN_BYTES)
    only = check(memlyze("summary", "--leaks", "--include", "hold", capture,
                         cwd=directory)).stdout
    assert "Nothing was selected" in only  # hold's blocks are all freed by the end
    excluded = rows_of(check(memlyze("summary", "--exclude", "hold", capture,
                                     cwd=directory)).stdout)
    assert not any(row[-1].startswith("hold ") for row in excluded)
    # Without a selector the summary is the one it always was (the whole capture's peak).
    plain = check(memlyze("summary", capture, cwd=directory)).stdout
    assert "locations holding memory at the peak:" in plain and "Peak memory" in plain


def test_summary_thread_selector(workload):
    directory, script, capture = workload
    from memlyze import formatting as fmt

    text = check(memlyze("summary", "--thread", "side-worker", capture, cwd=directory)).stdout
    assert "thread side-worker" in text
    rows = rows_of(text)
    assert rows[0][-1] == f"worker {script}:{line_of(script, 'WORKER')}"
    assert rows[0][0] == fmt.human_bytes(WORKER_BYTES)
    assert not any(row[-1].startswith(("recurse ", "leaf ")) for row in rows)


@pytest.mark.parametrize("arguments, message", [
    (["--sort", "own"], "--sort needs --by-function"),
    (["--native-frames", "all"], "--native-frames needs --by-function"),
    (["--temporary-threshold", "3"], "--temporary-threshold needs --temporary"),
    (["--leaks", "--temporary"], "not allowed with argument"),
    (["--by-function", "--sort", "bytes"], "invalid choice"),
    (["--thread", "no-such-thread"], "no thread 'no-such-thread'"),
    (["--snapshot", "3"], "--snapshot 3 does not exist"),
])
def test_summary_refusals(workload, arguments, message):
    directory, script, capture = workload
    result = memlyze("summary", *arguments, capture, cwd=directory)
    assert_one_line_error(result)
    assert message in result.stderr
    usage = arguments[0] in ("--sort", "--native-frames", "--temporary-threshold") or \
        "--temporary" in arguments or "bytes" in arguments
    assert result.returncode == (2 if usage else 1), result.stderr
