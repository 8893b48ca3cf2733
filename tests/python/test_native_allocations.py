"""Allocations made from C: a test-only extension and a library loaded with
dlopen after tracking started, from the calling thread and from a thread the
C code starts and names; and numpy."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FREE_THREADED, check, find_location, line_of, memlyze, stats_json, write_script
from native_build import build_extension, build_late_library

NATIVE_WORKLOAD = """
import ctypes
import sys
import threading

sys.path.insert(0, sys.argv[1])
import native_allocations as native


def direct():
    native.allocate(3_000_001)  # DIRECT


def in_c_thread():
    native.allocate_in_thread(2_000_003, "c-worker")  # C_THREAD


def named_late():
    native.allocate_in_thread(1_500_007, "named-late", True)  # NAMED_LATE


def late_library():
    library = ctypes.CDLL(sys.argv[2])  # dlopen'ed after tracking started
    library.late_library_allocate(ctypes.c_ulong(4_000_037))  # LATE


def in_python_thread():
    native.allocate(1_000_009)  # PY_THREAD


direct()
in_c_thread()
named_late()
late_library()
worker = threading.Thread(target=in_python_thread, name="py-worker")
worker.start()
worker.join()
print("done")
"""


@pytest.fixture(scope="module")
def native_capture(tmp_path_factory):
    """One profiled run of NATIVE_WORKLOAD: (script, capture, stats)."""
    directory = tmp_path_factory.mktemp("native")
    build_extension(directory)
    library = build_late_library(directory)
    script = write_script(directory, "native_workload.py", NATIVE_WORKLOAD)
    capture = directory / "native.mlyze"
    result = check(memlyze("run", "-o", capture, script, directory, library, cwd=directory))
    assert result.stdout == "done\n"
    return script, capture, stats_json(capture, directory)


def test_extension_allocation_has_exact_bytes_at_its_python_line(native_capture):
    script, _, stats = native_capture
    entry = find_location(stats["top_by_total"], "direct", script.name)
    assert entry is not None, stats["top_by_total"]
    assert (entry["line"], entry["bytes"], entry["count"]) == (line_of(script, "DIRECT"), 3_000_001, 1)
    assert entry["threads"] == ["MainThread"]


def test_library_loaded_after_start_is_tracked(native_capture):
    script, _, stats = native_capture
    entry = find_location(stats["top_by_total"], "late_library", script.name)
    assert entry is not None, stats["top_by_total"]
    assert entry["line"] == line_of(script, "LATE")
    if FREE_THREADED:  # the ctypes objects of the call are recorded too
        assert 4_000_037 <= entry["bytes"] <= 4_000_037 + 1024 and entry["count"] >= 2
    else:
        assert (entry["bytes"], entry["count"]) == (4_000_037, 1)


def test_python_thread_is_named_and_attributed(native_capture):
    script, _, stats = native_capture
    entry = find_location(stats["top_by_total"], "in_python_thread", script.name)
    assert entry is not None, stats["top_by_total"]
    assert (entry["line"], entry["bytes"]) == (line_of(script, "PY_THREAD"), 1_000_009)
    assert entry["threads"] == ["py-worker"]


def thread_allocations(capture, name):
    """Sizes of the allocations of the capture's thread called name."""
    from memlyze import FileReader

    with FileReader(capture) as reader:
        ids = {thread["thread_id"] for thread in reader.threads() if thread["name"] == name}
        assert len(ids) == 1, reader.threads()
        return [(record.size, record.stack_id) for record in reader.records()
                if record.thread_id in ids and record.kind == "alloc"]


def test_thread_started_from_c_is_named(native_capture):
    _, capture, stats = native_capture
    assert (2_000_003, 0) in thread_allocations(capture, "c-worker")
    no_frame = [entry for entry in stats["top_by_total"] if entry["function"] == "<no Python frame>"]
    assert no_frame and "c-worker" in no_frame[0]["threads"]


def test_thread_named_after_its_first_allocation_gets_the_name(native_capture):
    _, capture, _ = native_capture
    sizes = [size for size, _ in thread_allocations(capture, "named-late")]
    assert sizes.count(1_500_007) == 2, sizes


NUMPY_WORKLOAD = """
import numpy as np


def make():
    return np.ones((1024, 1024, 64))  # ONES


array = make()
print(array.nbytes)
"""


def test_numpy_half_gibibyte_is_attributed_to_its_line(tmp_path):
    script = write_script(tmp_path, "numpy_workload.py", NUMPY_WORKLOAD)
    check(memlyze("run", "-o", "numpy.mlyze", script, cwd=tmp_path))
    from memlyze import FileReader

    with FileReader(tmp_path / "numpy.mlyze") as reader:
        largest = next(reader.peak_allocations())
        callers = [(frame.function, Path(frame.file).name, frame.line) for frame in largest.stack]
    assert ("make", "numpy_workload.py", line_of(script, "ONES")) in callers, callers
    assert 512 * 2**20 <= largest.bytes <= 512 * 2**20 + 4096, largest


def test_numpy_native_stack_reaches_from_numpy_c_code_to_the_python_line(tmp_path):
    script = write_script(tmp_path, "numpy_workload.py", NUMPY_WORKLOAD)
    check(memlyze("run", "--native", "-o", "numpy.mlyze", script, cwd=tmp_path))
    stats = stats_json(tmp_path / "numpy.mlyze", tmp_path)
    stack = stats["top_by_peak"][0]["native_stack"]
    functions = [(function, kind) for function, _, _, kind in stack]
    array = next(index for index, (function, kind) in enumerate(functions)
                 if kind == "native" and function.startswith("PyArray_NewFromDescr"))
    make = functions.index(("make", "python"))
    assert array < functions.index(("ones", "python")) < make, functions
    assert stack[make][2] == line_of(script, "ONES")
