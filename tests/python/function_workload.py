"""A workload whose figures per function are known exactly, for the summary,
stats and tree tests: a recursive function, a function called from two
places, a named thread and a module whose import allocates. Every block is
kept in a pre-sized list (no list growth at the marked lines), so at exit
(--leaks) and at the peak each marked line holds exactly its bytearrays."""

from __future__ import annotations

from conftest import BYTEARRAY_ALLOCATIONS, bytearray_bytes, check, memlyze, write_script

WORKLOAD = """
import threading

KEEP = [None] * 16


def leaf(slot, size):
    KEEP[slot] = bytearray(size)  # LEAF


def recurse(depth):
    KEEP[depth] = bytearray(1_000_000)  # RECURSE
    if depth:
        recurse(depth - 1)  # RECURSE_CALL
    else:
        leaf(4, 3_000_000)  # RECURSE_LEAF


def worker():
    KEEP[6] = bytearray(2_000_000)  # WORKER


def main():
    recurse(3)  # MAIN_RECURSE
    leaf(5, 500_000)  # MAIN_LEAF
    import heavy_import  # MAIN_IMPORT
    KEEP[7] = heavy_import.DATA
    thread = threading.Thread(target=worker, name="side-worker")
    thread.start()
    thread.join()


main()
"""

HEAVY_IMPORT = """
DATA = bytearray(4_000_000)  # IMPORTED
"""

RECURSE_OWN = bytearray_bytes(1_000_000, 4)
LEAF_OWN = bytearray_bytes(3_000_000) + bytearray_bytes(500_000)
RECURSE_TOTAL = RECURSE_OWN + bytearray_bytes(3_000_000)
MAIN_LEAF_BYTES = bytearray_bytes(500_000)
WORKER_BYTES = bytearray_bytes(2_000_000)
IMPORTED_BYTES = bytearray_bytes(4_000_000)
RECURSE_OWN_COUNT = 4 * BYTEARRAY_ALLOCATIONS
RECURSE_TOTAL_COUNT = 5 * BYTEARRAY_ALLOCATIONS
LEAF_COUNT = 2 * BYTEARRAY_ALLOCATIONS


def record_workload(directory):
    """(script, capture) of one profiled run in directory."""
    script = write_script(directory, "workload.py", WORKLOAD)
    write_script(directory, "heavy_import.py", HEAVY_IMPORT)
    capture = directory / "workload.mlyze"
    check(memlyze("run", "-o", capture, script, cwd=directory))
    return script, capture
