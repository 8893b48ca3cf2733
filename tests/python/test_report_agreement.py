"""Every report reads the same heap.

`memlyze stats` and `summary` read the analysis pass directly
(analyze_capture); table, tree, flamegraph, diff and the exports read it
through ReportCollection, which must add nothing of its own. For
captures of several workloads (threads, realloc, --python-allocators,
sampled, --native, --aggregate), each of which frees memory before its peak,
leaks some at the end and mixes mmap-sized blocks (> 128 KiB) with small
ones, every report must give EXACTLY the same figures as `stats --json`:
the selection's bytes (the peak, or what leaked) and the bytes of each of
the top 5 locations (innermost Python frame) of either report.
"""

from __future__ import annotations

import re
import subprocess

import pytest

import report_readers as readers
from conftest import check, clean_env, memlyze, write_script

TOP = 5

MIXED = """
import os
import time

import numpy as np

LEAKED = []
PAUSE = float(os.environ.get("AGREE_PAUSE", "0"))


def churn():
    for _ in range(20):
        temporary = bytearray(400_000)  # mmap-sized, freed before the peak
        del temporary
        small = [bytearray(3000) for _ in range(50)]
        del small


def build():
    big = [bytearray(250_000) for _ in range(24)]
    small = [bytearray(1500) for _ in range(2000)]
    array = np.ones(300_000)
    text = ["x" * 600 + str(i) for i in range(1000)]
    table = {i: (i, str(i)) for i in range(3000)}
    return big, small, array, text, table


def leak():
    LEAKED.extend(bytearray(180_000) for _ in range(6))
    LEAKED.extend(bytearray(900) for _ in range(400))
    LEAKED.append(np.zeros(50_000))
    LEAKED.append([(i, float(i)) for i in range(2000)])


def main():
    churn()
    held = build()
    time.sleep(PAUSE)
    del held
    leak()
    time.sleep(PAUSE)


main()
"""

THREADS = """
import threading

barrier = threading.Barrier(4)
LEAKED = []


def worker(index):
    for _ in range(10):
        temporary = bytearray(300_000 + index)
        del temporary
    big = [bytearray(200_000 + 1000 * index) for _ in range(10 + index)]
    small = [bytearray(2000 + index) for _ in range(300)]
    barrier.wait()  # all four threads hold their blocks at once
    LEAKED.extend(bytearray(150_000 + index) for _ in range(2 + index))
    LEAKED.extend(bytearray(700 + index) for _ in range(100))
    del big, small


def first(index):
    worker(index)


def second(index):
    worker(index)


threads = [threading.Thread(target=first if i % 2 else second, args=(i,), name=f"w{i}")
           for i in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
after = [bytearray(100_000) for _ in range(3)]
del after
"""

# C code calling malloc/realloc/free (ctypes' own libc.realloc would be a
# dlsym'd pointer, which memlyze does not see): the realloc workload calls it.
REALLOC_LIBRARY = r"""
#include <stdlib.h>
void *agree_malloc(size_t size) { return malloc(size); }
void *agree_realloc(void *pointer, size_t size) { return realloc(pointer, size); }
void agree_free(void *pointer) { free(pointer); }
"""

REALLOC = """
import ctypes
import os

import numpy as np

library = ctypes.CDLL(os.environ["AGREE_REALLOC_LIBRARY"])
library.agree_malloc.restype = ctypes.c_void_p
library.agree_malloc.argtypes = [ctypes.c_size_t]
library.agree_realloc.restype = ctypes.c_void_p
library.agree_realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
library.agree_free.argtypes = [ctypes.c_void_p]


class libc:
    malloc = library.agree_malloc
    realloc = library.agree_realloc
    free = library.agree_free


LEAKED = []


def grow_bytearray(steps, chunk):
    data = bytearray()
    for _ in range(steps):
        data += chunk  # realloc, across the mmap threshold
    return data


def c_realloc_chain(sizes):
    pointer = libc.malloc(sizes[0])
    for size in sizes[1:]:
        pointer = libc.realloc(pointer, size)  # REALLOC
    return pointer


def grow_array():
    array = np.zeros(1000)
    array.resize(400_000, refcheck=False)  # realloc of the data
    return array


def main():
    for _ in range(5):
        freed = grow_bytearray(300, b"y" * 1000)  # freed before the peak
        del freed
        libc.free(c_realloc_chain([1000, 200_000, 600_000, 50_000]))
    held = [grow_bytearray(200, b"z" * 1500) for _ in range(4)]
    pointers = [c_realloc_chain([500, 5000, 300_000, 900_000]) for _ in range(6)]
    arrays = [grow_array() for _ in range(3)]
    shrunk = c_realloc_chain([700_000, 2000])
    for pointer in pointers[:4]:
        libc.free(pointer)
    del held, arrays
    LEAKED.append(grow_bytearray(150, b"w" * 2000))
    LEAKED.append(c_realloc_chain([100, 180_000]))
    LEAKED.extend(pointers[4:])  # never freed
    LEAKED.append(shrunk)
    LEAKED.append(grow_array())


main()
"""

EMPTY = "pass\n"

# How many locations `stats --json -n` lists: all of them, but for --native
# captures, where stats symbolises a native stack per location listed (about
# 0.2 s each), the 10 largest (then a location in another report's top 5 that
# stats does not list is a disagreement).
STATS_TOP = {"native": 10}

# name: (script, options, extra environment)
WORKLOADS = {
    "threads": (THREADS, [], {}),
    "realloc": (REALLOC, [], {}),
    "python_allocators": (MIXED, ["--python-allocators"], {}),
    "sampled": (MIXED, ["--sample-interval", "64KiB"], {"MEMLYZE_SEED": "12345"}),
    "native": (MIXED, ["--native"], {}),
    "aggregate": (MIXED, ["--aggregate", "--aggregate-interval", "0.05"], {"AGREE_PAUSE": "0.3"}),
}


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    return tmp_path_factory.mktemp("agreement")


@pytest.fixture(scope="module")
def baseline(directory):
    """A capture of an empty program, the "before" of `memlyze diff`."""
    script = write_script(directory, "empty.py", EMPTY)
    capture = directory / "empty.mlyze"
    check(memlyze("run", "-o", capture, script, cwd=directory))
    return capture


_captures: dict = {}


def realloc_library(directory) -> str:
    from native_build import FLAGS, compiler

    source = directory / "agree_realloc.c"
    output = directory / "libagree_realloc.so"
    if not output.exists():
        source.write_text(REALLOC_LIBRARY)
        subprocess.run([*compiler(), *FLAGS, str(source), "-o", str(output)], check=True,
                       capture_output=True, text=True)
    return output


@pytest.fixture(scope="module")
def record(directory):
    def record(name):
        if name not in _captures:
            source, options, environment = WORKLOADS[name]
            if name == "realloc":
                environment = {**environment,
                               "AGREE_REALLOC_LIBRARY": str(realloc_library(directory))}
            script = write_script(directory, f"{name}.py", source)
            capture = directory / f"{name}.mlyze"
            check(memlyze("run", *options, "-o", capture, script, cwd=directory,
                          env=clean_env(**environment)))
            workdir = directory / name
            workdir.mkdir()
            top = STATS_TOP.get(name, readers.ALL)
            _captures[name] = (capture, workdir, readers.stats_json(capture, workdir, top), top)
        return _captures[name]
    return record


def every_report(capture, selection, workdir, baseline, stats, top) -> list:
    found = [
        readers.from_analysis("summary (load_summary)", readers.summary_analysis(capture, top),
                              selection, top),
        readers.file_reader(capture, selection),
        readers.table_html(capture, selection, workdir),
        readers.table_api(capture, selection),
        readers.export_csv(capture, selection, workdir),
        *readers.export_json(capture, selection, workdir),
        readers.export_collapsed(capture, selection, workdir),
        readers.export_speedscope(capture, selection, workdir),
        readers.export_pprof(capture, selection, workdir),
        readers.flame_data_exact(capture, selection),
        readers.flame_data_exact(capture, selection, inverted=True),
        *readers.flame_page(capture, selection, workdir),
        readers.diff_html(baseline, capture, selection, workdir),
    ]
    return found


@pytest.mark.parametrize("selection", readers.SELECTIONS)
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_every_report_gives_the_same_figures(workload, selection, record, baseline):
    capture, workdir, stats, top = record(workload)
    reference = readers.from_analysis("stats --json", stats, selection, top)
    assert reference.total > 0 and len(reference.top(TOP)) == TOP, reference
    problems = readers.disagreements(reference, every_report(capture, selection, workdir,
                                                             baseline, stats, top), TOP)
    assert not problems, f"{workload}, {selection}: {len(problems)} disagreements:\n" + \
        "\n".join(problems)


def test_the_workloads_are_not_trivial(record):
    """Memory was freed before the peak and more than the leaks is held
    there, and mmap-sized blocks are among the top locations."""
    for name in WORKLOADS:
        stats = record(name)[2]
        assert stats["total_bytes"] > stats["peak_bytes"] > stats["leaked_bytes"] > 0, name
        # (a block's Python object is one more allocation where the Python
        # allocators are recorded: free-threaded builds, --python-allocators)
        per_block = 2 if stats["python_allocators"] else 1
        assert any(entry["bytes"] / max(entry["count"] // per_block, 1) > 128 * 1024
                   for entry in stats["top_by_peak"][:TOP]), name


def _rounded_lines(text: str, pattern: str) -> re.Match:
    match = re.search(pattern, text, re.M)
    assert match, f"{pattern!r} not in:\n{text}"
    return match


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_rounded_text_reports_print_the_same_figures(workload, record):
    """summary and tree print rounded figures: they must be the roundings
    of the exact ones."""
    from memlyze import formatting as fmt

    capture, workdir, stats, _ = record(workload)
    summary = readers.run("summary", "-n", TOP, capture, cwd=workdir)
    match = _rounded_lines(summary, r"^Peak memory (.+?) at .*; leaked (.+)$")
    problems = []
    if match.group(1) != fmt.human_bytes(stats["peak_bytes"]):
        problems.append(f"summary peak {match.group(1)} vs stats "
                        f"{fmt.human_bytes(stats['peak_bytes'])}")
    if match.group(2) != fmt.human_bytes(stats["leaked_bytes"]):
        problems.append(f"summary leaked {match.group(2)} vs stats "
                        f"{fmt.human_bytes(stats['leaked_bytes'])}")
    for selection, total in (("peak", stats["peak_bytes"]), ("leaks", stats["leaked_bytes"])):
        tree = readers.run("tree", "--plain", *readers.selector_args(selection), capture,
                           cwd=workdir)
        root = _rounded_lines(tree, r"^(\S+ \S+)\s+\S+%\s+<all>$").group(1)
        if root != fmt.human_bytes(total):
            problems.append(f"tree {selection} root {root} vs stats {fmt.human_bytes(total)}")
    assert not problems, f"{workload}: " + "; ".join(problems)
