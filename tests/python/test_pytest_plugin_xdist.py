"""The pytest plugin under pytest-xdist (from PyPI): each worker records its
own tests; the controller prints one summary over all of them."""

from __future__ import annotations

import re

import pytest

from conftest import check
from pytest_plugin_suite import (EXPECTED_FAILURES, EXPECTED_PASSES, outcomes, ranked_tests,
                                 run_pytest, summary_section, write_suite)

pytest.importorskip("xdist", reason="pytest-xdist is one of the test tools (scripts/test.sh)")

WORKER_SUITE = '''
import os

import pytest


@pytest.mark.parametrize("megabytes", [1, 2, 3, 4, 5, 6, 7, 8])
def test_sized(megabytes):
    block = bytearray(megabytes * 1_000_000)
    print(os.environ["PYTEST_XDIST_WORKER"])


@pytest.mark.limit_memory("2 MB")
def test_limited():
    block = bytearray(5_500_000)  # between test_sized[6] and [5]: no tie to break
'''


def test_controller_prints_one_summary_merged_over_workers(tmp_path):
    write_suite(tmp_path, WORKER_SUITE)
    result = run_pytest(tmp_path, "-n", "2", "--memlyze-full", "--memlyze-top", "0")
    check(result, 1)
    assert outcomes(result) == {**{f"test_sized[{n}]": "PASSED" for n in range(1, 9)},
                                "test_limited": "FAILED"}
    # Both workers ran tests (their captured output names them).
    assert {"gw0", "gw1"} <= set(re.findall(r"^(gw\d)$", result.stdout, re.MULTILINE))
    assert result.stdout.count("memlyze: the ") == 1
    summary = summary_section(result)
    assert summary.startswith("memlyze: the 9 hungriest of 9 recorded tests")
    assert ranked_tests(summary) == [f"test_sized[{n}]" for n in (8, 7, 6)] + [
        "test_limited", *(f"test_sized[{n}]" for n in (5, 4, 3, 2, 1))]
    assert re.search(r"test_sized\[8\]: peak 7\.6 MiB", summary)
    assert "over its limit of 2 MB (2,000,000 bytes) from limit_memory" in result.stdout


def test_markers_hold_in_workers_without_profiling(tmp_path):
    write_suite(tmp_path)
    result = run_pytest(tmp_path, "-n", "2")
    check(result, 1)
    found = outcomes(result)
    assert {name for name, outcome in found.items() if outcome == "FAILED"} == EXPECTED_FAILURES
    assert {name for name, outcome in found.items() if outcome == "PASSED"} == EXPECTED_PASSES
    assert "memlyze: the " not in result.stdout
