"""Helpers for the Python tests. They run the INSTALLED memlyze package (the
one `pip install .` put into the interpreter running pytest), mostly through
`python -m memlyze` in subprocesses, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MEMLYZE = [sys.executable, "-m", "memlyze"]
MB = 1_000_000
# A free-threaded (no GIL) build: Python objects come from mimalloc, and
# memlyze records the Python allocator domains in every mode.
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def pytest_configure(config):
    import memlyze

    location = Path(memlyze.__file__).resolve()
    if REPO / "src" in location.parents:
        raise pytest.UsageError(
            f"memlyze is imported from the source tree ({location}); "
            "the tests must run against the installed package (pip install .)"
        )


def clean_env(**extra) -> dict:
    env = {key: value for key, value in os.environ.items()
           if key not in ("MEMLYZE_RECORD", "PYTHONSTARTUP", "PYTHONINSPECT")}
    env.update(extra)
    return env


def memlyze(*args, cwd, env=None, timeout=180, input=None) -> subprocess.CompletedProcess:
    """Runs `python -m memlyze ARGS` and returns the finished process (text)."""
    return subprocess.run(
        [*MEMLYZE, *map(str, args)],
        cwd=cwd,
        env=env or clean_env(),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def python(*args, cwd, env=None, timeout=180, input=None) -> subprocess.CompletedProcess:
    """Runs this interpreter without memlyze, for comparison."""
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        env=env or clean_env(),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def check(result: subprocess.CompletedProcess, status: int = 0) -> subprocess.CompletedProcess:
    assert result.returncode == status, (
        f"exit status {result.returncode}, expected {status}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result


def stats_json(path, cwd) -> dict:
    result = check(memlyze("stats", "--json", path, cwd=cwd))
    return json.loads(result.stdout)


def write_script(directory: Path, name: str, source: str) -> Path:
    path = Path(directory) / name
    path.write_text(textwrap.dedent(source).lstrip())
    return path


def line_of(path: Path, marker: str) -> int:
    """The 1-based number of the line holding `# <marker>`."""
    for number, text in enumerate(Path(path).read_text().splitlines(), start=1):
        if text.rstrip().endswith(f"# {marker}"):
            return number
    raise AssertionError(f"marker {marker!r} not in {path}")


def comprehension(function: str) -> str:
    """The function a list comprehension inside function runs in: its own
    <listcomp> frame before 3.12, inlined into function from 3.12 (PEP 709)."""
    return f"{function}.<locals>.<listcomp>" if sys.version_info < (3, 12) else function


def find_location(entries, function, file_name):
    """The entry of a top list for that function in that file, or None."""
    for entry in entries:
        if entry["function"] == function and Path(entry["file"]).name == file_name:
            return entry
    return None


def assert_one_line_error(result: subprocess.CompletedProcess) -> None:
    assert result.returncode != 0, f"expected a failure\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert lines[0].startswith("memlyze: error: "), lines[0]


def assert_close(value, truth, tolerance=0.05):
    assert abs(value - truth) <= tolerance * truth, (
        f"{value:,} is not within {tolerance:.0%} of {truth:,} ({value / truth:.3f}×)"
    )


# A workload whose allocations are known exactly. Each bytearray(N) above 512
# bytes is one malloc(N + 1) made at the marked line (see bytearray_bytes).
GROUND_TRUTH = """
import sys

LEAKED = []


def churn():
    for _ in range(100):
        temporary = bytearray(2_000_000)  # CHURN
        del temporary


def hold():
    blocks = []
    for _ in range(200):
        blocks.append(bytearray(1_000_000))  # HOLD
    return blocks


def leak():
    for _ in range(100):
        LEAKED.append(bytearray(1_000_000))  # LEAK


def main():
    churn()
    blocks = hold()
    print("held", len(blocks))
    del blocks
    leak()
    print("leaked", len(LEAKED))


main()
"""

# On a free-threaded build the Python allocator domains are recorded, so a
# bytearray(N) is two allocations there: its object (bytearray's basic size)
# and its N + 1 bytes, both at its line, both from the Python allocators.
BYTEARRAY_ALLOCATIONS = 2 if FREE_THREADED else 1
BYTEARRAY_OBJECT_BYTES = bytearray.__basicsize__ if FREE_THREADED else 0
# The allocator a bytearray's buffer is recorded under.
BUFFER_ALLOCATOR = "pymalloc" if FREE_THREADED else "malloc"


def bytearray_bytes(size: int, count: int = 1) -> int:
    """What count bytearray(size) allocate, as recorded on this build."""
    return count * (size + 1 + BYTEARRAY_OBJECT_BYTES)


HOLD_BYTES = bytearray_bytes(1_000_000, 200)
LEAK_BYTES = bytearray_bytes(1_000_000, 100)
CHURN_BYTES = bytearray_bytes(2_000_000, 100)


@pytest.fixture(scope="session")
def ground_truth(tmp_path_factory):
    """One profiled run of GROUND_TRUTH: (directory, script, capture, stats)."""
    directory = tmp_path_factory.mktemp("ground_truth")
    script = write_script(directory, "workload.py", GROUND_TRUTH)
    capture = directory / "workload.mlyze"
    result = check(memlyze("run", "-o", capture, script, cwd=directory))
    assert result.stdout == "held 200\nleaked 100\n"
    return directory, script, capture, stats_json(capture, directory)
