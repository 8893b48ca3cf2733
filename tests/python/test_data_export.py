"""Issue 18: a capture's tables as Parquet (pyarrow), SQL with DuckDB
(`memlyze query`) and Dask (`memlyze.dask`), checked against `stats --json`
on workloads whose allocations are known exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as parquet
import pytest

from conftest import (BYTEARRAY_ALLOCATIONS, FREE_THREADED, MEMLYZE, assert_one_line_error,
                      bytearray_bytes, check, clean_env, line_of, memlyze, stats_json,
                      write_script)
from native_build import build_mapping_library

try:
    import duckdb
except ImportError:
    if not FREE_THREADED:
        raise
    duckdb = None  # DuckDB publishes no wheel for free-threaded CPython
needs_duckdb = pytest.mark.skipif(
    duckdb is None, reason="DuckDB has no build for free-threaded CPython; these run on 3.11-3.13")


def _location(entry) -> tuple:
    return (entry["function"], entry["file"], entry["line"], entry["bytes"], entry["count"])


@pytest.fixture(scope="module")
def exported(ground_truth, tmp_path_factory):
    """The ground-truth capture exported to Parquet: (directory, stats)."""
    _, _, capture, stats = ground_truth
    directory = tmp_path_factory.mktemp("parquet") / "out"
    check(memlyze("export", capture, "--format", "parquet", "-o", directory, cwd=directory.parent))
    return directory, stats


def _read(directory: Path, table: str):
    [path] = (directory / table).glob("process=*/part-0.parquet")
    return parquet.read_table(path).to_pylist()


def test_parquet_read_by_pyarrow_gives_the_stats_figures(exported):
    directory, stats = exported
    rows = _read(directory, "allocations")
    assert len(rows) == stats["total_allocations"]
    assert sum(row["size"] for row in rows) == stats["total_bytes"]
    changes = {}
    for row in rows:
        changes[row["allocated_event"]] = changes.get(row["allocated_event"], 0) + row["size"]
        if row["freed_event"] is not None:
            changes[row["freed_event"]] = changes.get(row["freed_event"], 0) - row["size"]
    heap = peak = 0
    for event in sorted(changes):
        heap += changes[event]
        peak = max(peak, heap)
    assert peak == stats["peak_bytes"]
    leaked = [row for row in rows if row["freed_event"] is None]
    assert sum(row["size"] for row in leaked) == stats["leaked_bytes"]
    assert len(leaked) == stats["leaked_allocations"]
    [process] = _read(directory, "processes")
    assert process["pid"] == stats["pid"] and process["allocations"] == len(rows)
    assert process["python_version"] == stats["python_version"]
    assert process["peak_bytes"] == peak


def _duckdb_rows(directory: Path, sql: str) -> list[tuple]:
    from memlyze.data_tables import connect

    return connect([str(directory)]).execute(sql).fetchall()


@needs_duckdb
def test_duckdb_views_give_the_stats_top_locations(exported):
    directory, stats = exported
    [(peak,)] = _duckdb_rows(directory, "SELECT peak_bytes FROM peaks")
    assert peak == stats["peak_bytes"]
    columns = "function, file, line, bytes, count"
    for view, key in (("peak_by_location", "top_by_peak"), ("leaks_by_location", "top_leaks"),
                      ("total_by_location", "top_by_total")):
        expected = [_location(entry) for entry in stats[key]]
        got = _duckdb_rows(directory, f"SELECT {columns} FROM {view} LIMIT {len(expected)}")
        assert got == expected, view


SNAPSHOTS = """
import sys
import memlyze

KEPT = []
with memlyze.Tracker(sys.argv[1]) as tracker:
    KEPT.append(bytearray(3_000_000))  # BEFORE
    tracker.snapshot()
    for _ in range(40):
        KEPT.append(bytearray(250_000))  # GROWTH
    temporary = [bytearray(500_000) for _ in range(4)]  # TEMPORARY
    del temporary
    tracker.snapshot()
"""


@needs_duckdb
def test_query_answers_growth_between_two_snapshots(tmp_path):
    script = write_script(tmp_path, "snapshots.py", SNAPSHOTS)
    capture = tmp_path / "snapshots.mlyze"
    check(subprocess.run([MEMLYZE[0], script, capture], cwd=tmp_path, env=clean_env(),
                         capture_output=True, text=True, timeout=120))
    result = check(memlyze("query", capture,
                           "SELECT function, line, growth_bytes, growth_count "
                           "FROM growth_between_snapshots(1, 2) WHERE file LIKE '%snapshots.py'",
                           "--format", "json", cwd=tmp_path))
    rows = json.loads(result.stdout)
    [growth] = [row for row in rows if row["line"] == line_of(script, "GROWTH")]
    assert growth["function"] == "<module>"
    # The 40 buffers, and at most the list's own growing item array.
    blocks = bytearray_bytes(250_000, 40)
    assert blocks <= growth["growth_bytes"] <= blocks + 1024
    assert 40 * BYTEARRAY_ALLOCATIONS <= growth["growth_count"] <= 40 * BYTEARRAY_ALLOCATIONS + 2
    # What was allocated before the first snapshot, or freed by the second,
    # did not grow between them.
    lines = {row["line"] for row in rows if row["growth_bytes"] >= 250_000}
    assert lines == {line_of(script, "GROWTH")}


@needs_duckdb
def test_query_output_formats_and_several_captures(exported, fleet, tmp_path):
    directory, stats = exported
    captures, fleet_stats = fleet
    csv_text = check(memlyze("query", directory, captures[0],
                             "SELECT process, peak_bytes FROM peaks ORDER BY process",
                             "--format", "csv", cwd=tmp_path)).stdout
    expected = sorted([(stats["pid"], stats["peak_bytes"]),
                       (fleet_stats[0]["pid"], fleet_stats[0]["peak_bytes"])])
    assert csv_text.splitlines() == ["process,peak_bytes"] + [f"{pid},{peak}"
                                                              for pid, peak in expected]
    table = check(memlyze("query", directory, "SELECT peak_bytes FROM peaks",
                          cwd=tmp_path)).stdout.splitlines()
    assert table[0].strip() == "peak_bytes" and table[2].strip() == str(stats["peak_bytes"])
    twice = memlyze("query", directory, directory, "SELECT 1", cwd=tmp_path)
    assert_one_line_error(twice)


@needs_duckdb
def test_bad_sql_is_one_line_from_duckdb(exported, tmp_path):
    directory, _ = exported
    result = memlyze("query", directory, "SELEC peak FROM nowhere", cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line_error(result)
    assert "syntax error" in result.stderr


def test_export_errors_are_one_line(ground_truth, tmp_path):
    _, _, capture, _ = ground_truth
    assert_one_line_error(memlyze("export", capture, "--format", "parquet", cwd=tmp_path))
    damaged = tmp_path / "damaged.mlyze"
    data = bytearray(capture.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = bytes(64)
    damaged.write_bytes(bytes(data))
    result = memlyze("export", damaged, "--format", "parquet", "-o", tmp_path / "out",
                     cwd=tmp_path)
    assert_one_line_error(result)
    assert not list((tmp_path / "out").glob("*/process=*")), "a damaged capture left tables"
    # The same process exported twice into one directory is refused.
    check(memlyze("export", capture, "--format", "parquet", "-o", tmp_path / "twice",
                  cwd=tmp_path))
    again = memlyze("export", capture, "--format", "parquet", "-o", tmp_path / "twice",
                    cwd=tmp_path)
    assert_one_line_error(again)
    assert "already holds process" in again.stderr


@needs_duckdb
def test_streams_give_bounded_batches_with_no_python_copies(ground_truth):
    import pyarrow

    from memlyze._memlyze import CaptureTables

    _, _, capture, stats = ground_truth
    tables = CaptureTables(str(capture))
    reader = pyarrow.RecordBatchReader.from_stream(tables.table("allocations"))
    rows = sum(batch.num_rows for batch in reader)
    assert rows == stats["total_allocations"]
    with pytest.raises(RuntimeError):
        tables.table("allocations")  # one allocations stream per capture
    frames = pyarrow.RecordBatchReader.from_stream(tables.table("frames")).read_all()
    assert "hold" in frames.column("function").to_pylist()
    # DuckDB scans a pyarrow reader made from the stream.
    again = CaptureTables(str(capture))
    stream = pyarrow.RecordBatchReader.from_stream(again.table("allocations"))  # noqa: F841 (DuckDB finds it by name)
    [(count,)] = duckdb.sql("SELECT count(*) FROM stream").fetchall()
    assert count == stats["total_allocations"]


def test_query_without_duckdb_names_the_missing_package(ground_truth, tmp_path):
    """Where DuckDB cannot be imported (it has no free-threaded build), query
    says so in one line; here its import is made to fail on every build."""
    _, _, capture, _ = ground_truth
    code = ("import sys; sys.modules['duckdb'] = None\n"
            "from memlyze.cli.main import main\n"
            f"sys.exit(main(['query', {str(capture)!r}, 'SELECT 1']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, env=clean_env())
    assert_one_line_error(result)
    assert "duckdb is not installed" in result.stderr


FLEET_WORKER = """
import sys

size = int(sys.argv[1])
kept = [bytearray(size) for _ in range(20)]  # HELD
shared = bytearray(1_500_000)  # SHARED
del kept
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Eight captures of one worker holding different amounts: (paths, stats)."""
    directory = tmp_path_factory.mktemp("fleet")
    script = write_script(directory, "worker.py", FLEET_WORKER)
    captures = [directory / f"worker{index}.mlyze" for index in range(8)]
    runs = [subprocess.Popen([*MEMLYZE, "run", "-o", capture, script, str(100_000 * (index + 1))],
                             cwd=directory, env=clean_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for index, capture in enumerate(captures)]
    for run in runs:
        _, error = run.communicate(timeout=120)
        assert run.returncode == 0, error
    return captures, [stats_json(capture, directory) for capture in captures]


def test_dask_local_cluster_computes_the_peak_by_location_of_eight_captures(fleet, tmp_path):
    from distributed import Client, LocalCluster

    from memlyze.dask import CaptureTables as DaskTables

    captures, stats = fleet
    root = tmp_path / "exports"
    for capture in captures:
        check(memlyze("export", capture, "--format", "parquet", "-o", root, cwd=tmp_path))
    # What the per-capture stats --json say, combined (summary --merge is
    # another issue's): each location's bytes and count at each peak, summed.
    expected = {}
    for one in stats:
        for entry in one["top_by_peak"]:
            key = (entry["function"], entry["file"], entry["line"])
            bytes_, count = expected.get(key, (0, 0))
            expected[key] = (bytes_ + entry["bytes"], count + entry["count"])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        tables = DaskTables([root])
        frame = tables.peak_by_location().compute()
        peaks = tables.peaks().compute()
    got = {(row.function, row.file, int(row.line)): (round(row.bytes), round(row["count"]))
           for _, row in frame.iterrows()}
    got = {key: value for key, value in got.items() if value[0] or value[1]}
    top = {key: value for key, value in expected.items() if key[1].endswith("worker.py")}
    assert {key: got[key] for key in top} == top
    assert sorted(peaks["peak_bytes"]) == sorted(one["peak_bytes"] for one in stats)
    held_line = line_of(Path(captures[0]).parent / "worker.py", "HELD")
    held = sum(bytearray_bytes(100_000 * (index + 1), 20) for index in range(8))
    # Each peak holds its 20 buffers (a comprehension: the frame's function
    # depends on the Python version), so their sum is in the cluster's answer.
    [held_bytes] = [value[0] for key, value in got.items()
                    if key[1].endswith("worker.py") and key[2] == held_line]
    assert held <= held_bytes <= held + 8 * 4096


MUNMAP_HOLES = """
import ctypes
import mmap
import sys

library = ctypes.CDLL(sys.argv[1])
library.map_bytes.restype = ctypes.c_void_p
library.map_bytes.argtypes = [ctypes.c_size_t]
library.unmap_bytes.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
PAGE = mmap.PAGESIZE


def map_pages(pages):
    address = library.map_bytes(pages * PAGE)  # MAPPED
    assert address
    return address


def unmap(address, first_page, pages):
    assert library.unmap_bytes(address + first_page * PAGE, pages * PAGE) == 0


kept = map_pages(64)
unmap(kept, 16, 16)            # a hole: the head (16 pages) and the tail (32) stay
passing = map_pages(32)
unmap(passing, 8, 8)           # a hole, then the rest piece by piece
unmap(passing, 0, 8)
unmap(passing, 16, 16)
print(PAGE)
"""


@pytest.fixture(scope="module")
def munmap_holes(tmp_path_factory):
    """MUNMAP_HOLES recorded and exported: (directory, stats, page, script)."""
    directory = tmp_path_factory.mktemp("holes")
    script = write_script(directory, "holes.py", MUNMAP_HOLES)
    library = build_mapping_library(directory)
    capture = directory / "holes.mlyze"
    page = int(check(memlyze("run", "-o", capture, script, library, cwd=directory)).stdout)
    exported_to = directory / "out"
    check(memlyze("export", capture, "--format", "parquet", "-o", exported_to, cwd=directory))
    return exported_to, stats_json(capture, directory), page, script


def test_munmap_holes_give_the_stats_figures_in_parquet(munmap_holes):
    """munmaps that cut holes in the middle of mappings: the export's pass
    follows the analysis's rules, so the rows read by pyarrow hold exactly
    what `stats --json` finds live at the peak and at the end."""
    directory, stats, page, script = munmap_holes
    mapped = line_of(script, "MAPPED")

    def at_mapped(key):
        [entry] = [entry for entry in stats[key]
                   if entry["file"].endswith("holes.py") and entry["line"] == mapped]
        return entry["bytes"], entry["count"]

    if not stats["python_allocators"]:  # else the line's int objects count too
        assert at_mapped("top_leaks") == (48 * page, 2)  # the kept head and tail
        assert at_mapped("top_by_peak") == (80 * page, 3)  # and the passing mapping, whole
    rows = _read(directory, "allocations")
    leaked = [row for row in rows if row["freed_event"] is None]
    assert sum(row["size"] for row in leaked) == stats["leaked_bytes"]
    assert len(leaked) == stats["leaked_allocations"]
    [process] = _read(directory, "processes")
    assert process["peak_bytes"] == stats["peak_bytes"]
    peak_event = process["peak_event"]
    at_peak = [row for row in rows if row["allocated_event"] <= peak_event
               and (row["freed_event"] is None or row["freed_event"] > peak_event)]
    assert sum(row["size"] for row in at_peak) == stats["peak_bytes"]
    frame_of = {row["stack_id"]: row["frame_id"] for row in _read(directory, "stacks")}
    mapped_frames = {row["frame_id"] for row in _read(directory, "frames")
                     if row["file"].endswith("holes.py") and row["line"] == mapped}
    mapped_rows = [row for row in at_peak if frame_of.get(row["stack_id"]) in mapped_frames
                   and row["allocator"] == "mmap"]
    blocks = [row for row in mapped_rows
              if row["block_event"] is not None and row["block_event"] <= peak_event]
    assert sum(row["size"] for row in mapped_rows) == 80 * page
    assert len(mapped_rows) == 5 and len(blocks) == 3  # passing's later pieces were one block


@needs_duckdb
def test_munmap_holes_give_the_stats_top_locations_in_duckdb(munmap_holes):
    directory, stats, _, _ = munmap_holes
    [(peak,)] = _duckdb_rows(directory, "SELECT peak_bytes FROM peaks")
    assert peak == stats["peak_bytes"]
    columns = "function, file, line, bytes, count"
    for view, key in (("peak_by_location", "top_by_peak"), ("leaks_by_location", "top_leaks"),
                      ("total_by_location", "top_by_total")):
        expected = [_location(entry) for entry in stats[key]]
        got = _duckdb_rows(directory, f"SELECT {columns} FROM {view} LIMIT {len(expected)}")
        assert got == expected, view
