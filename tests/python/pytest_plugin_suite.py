"""A sample test suite for the pytest plugin's tests, and running it through
a real ``python -m pytest`` subprocess. Its allocations are known exactly:
``bytearray(n)`` makes one allocation of n + 1 bytes."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from conftest import clean_env

# A 3.13 test may also map a pymalloc arena (1 MiB) while it runs: allowed
# above the exact bytes of its bytearrays.
ARENA_ALLOWANCE = 4 * 1024 * 1024

SAMPLE_SUITE = '''
import os
import pytest

kept = []


def test_small():
    bytearray(1000)


@pytest.mark.limit_memory("4 MB")
def test_over_limit():
    block = bytearray(6_000_000)
    other = bytearray(1_000_000)


@pytest.mark.limit_memory("12MiB")
def test_under_limit():
    block = bytearray(6_000_000)


def _not_cache(stack):
    assert stack.size > 0 and stack.count > 0
    return not any(frame.function == "fill_cache" and frame.filename.endswith("test_sample.py")
                   and frame.lineno > 0 for frame in stack.frames)


def fill_cache():
    kept.append(bytearray(3_000_000))


@pytest.mark.limit_leaks("1 MB", filter_fn=_not_cache)
def test_leak_filtered():
    fill_cache()


@pytest.mark.limit_leaks("1 MB")
def test_leak():
    kept.append(bytearray(2_000_000))


@pytest.mark.parametrize("size", [
    pytest.param(1_000_000, marks=pytest.mark.limit_memory("3 MB"), id="small"),
    pytest.param(10_000_000, marks=pytest.mark.limit_memory("3 MB"), id="big"),
])
def test_param(size):
    bytearray(size)


@pytest.mark.limit_memory({"a": "1 MB", "*": "20 MB"})
@pytest.mark.parametrize("size", [3_000_000, 3_000_001, 3_000_002], ids=["a", "b", "c"])
def test_dict(size):
    x = bytearray(size)


def test_hungry():
    x = [bytearray(100_000) for _ in range(200)]
'''

# Outcome of each test of SAMPLE_SUITE when its markers are enforced.
EXPECTED_FAILURES = {"test_over_limit", "test_leak", "test_param[big]", "test_dict[a]"}
EXPECTED_PASSES = {"test_small", "test_under_limit", "test_leak_filtered", "test_param[small]",
                   "test_dict[b]", "test_dict[c]", "test_hungry"}


def write_suite(folder, source: str = SAMPLE_SUITE, ini: str = "") -> None:
    (folder / "test_sample.py").write_text(textwrap.dedent(source))
    (folder / "pytest.ini").write_text("[pytest]\n" + ini)


def run_pytest(folder, *args, env=None, timeout=240) -> subprocess.CompletedProcess:
    """``python -m pytest -rA ARGS`` in folder (its own rootdir, no cache).
    pytest-memray, where installed (the overhead benchmark uses it), would
    enforce the same markers: blocked (harmless where it is not installed)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "-p", "no:memray",
         *map(str, args)],
        cwd=folder, env=env or clean_env(), capture_output=True, text=True, timeout=timeout)


def outcomes(result: subprocess.CompletedProcess) -> dict[str, str]:
    """Test name (without the file) -> PASSED, FAILED or ERROR, from -rA."""
    found = {}
    for match in re.finditer(r"^(PASSED|FAILED|ERROR) \S+?::(\S+)", result.stdout, re.MULTILINE):
        found[match.group(2)] = match.group(1)
    return found


def held_bytes(result: subprocess.CompletedProcess, test: str) -> int:
    """The exact peak a limit failure reports for test."""
    match = re.search(rf"memlyze: \S+::{re.escape(test)} held .*? \(([\d,]+) bytes\)",
                      result.stdout)
    assert match, result.stdout
    return int(match.group(1).replace(",", ""))


def summary_section(result: subprocess.CompletedProcess) -> str:
    start = result.stdout.find("memlyze: the ")
    assert start >= 0, result.stdout
    return result.stdout[start:]


def ranked_tests(summary: str) -> list[str]:
    return re.findall(r"^\d+\. \S+?::(\S+): peak", summary, re.MULTILINE)
