"""Parquet exports of the earlier layout (no native_stacks table, no
allocations.block_event, no frames.module or frames.kind) still answer
memlyze query and memlyze.dask as an export of today's layout does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as parquet
import pytest

from conftest import FREE_THREADED, check, memlyze, write_script

WORKLOAD = """
kept = [bytearray(300_000) for _ in range(10)]  # KEPT
churn = [bytearray(50_000) for _ in range(40)]
del churn
"""

# What each table of the earlier layout did not have.
LATER_COLUMNS = {"allocations": ["block_event"], "frames": ["module", "kind"]}


def _to_earlier_layout(directory: Path) -> None:
    shutil.rmtree(directory / "native_stacks")
    for table, columns in LATER_COLUMNS.items():
        [path] = (directory / table).glob("process=*/part-0.parquet")
        # The file alone, not its directory: no hive partition column added.
        rows = parquet.ParquetFile(path).read()
        parquet.write_table(rows.drop_columns(columns), path)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """(today's export, the same as the earlier layout had it)."""
    directory = tmp_path_factory.mktemp("layouts")
    script = write_script(directory, "workload.py", WORKLOAD)
    capture = directory / "workload.mlyze"
    check(memlyze("run", "-o", capture, script, cwd=directory))
    today, earlier = directory / "today", directory / "earlier"
    for out in (today, earlier):
        check(memlyze("export", capture, "--format", "parquet", "-o", out, cwd=directory))
    _to_earlier_layout(earlier)
    return today, earlier, directory


def _query(directory: Path, cwd: Path, sql: str) -> list:
    result = check(memlyze("query", directory, sql, "--format", "json", cwd=cwd))
    return json.loads(result.stdout)


@pytest.mark.skipif(FREE_THREADED, reason="DuckDB has no build for free-threaded CPython")
@pytest.mark.parametrize("view", ["peak_by_location", "leaks_by_location", "total_by_location"])
def test_query_views_agree(exports, view):
    today, earlier, cwd = exports
    sql = f"SELECT * FROM {view} ORDER BY ALL"
    assert _query(earlier, cwd, sql) == _query(today, cwd, sql)


@pytest.mark.skipif(FREE_THREADED, reason="DuckDB has no build for free-threaded CPython")
def test_query_has_the_later_tables_and_columns_empty_or_filled(exports):
    _, earlier, cwd = exports
    assert _query(earlier, cwd, "SELECT count(*) AS n FROM native_locations") == [{"n": 0}]
    kinds = _query(earlier, cwd, "SELECT DISTINCT module, kind FROM frames")
    assert kinds == [{"module": "", "kind": "python"}]


def test_dask_agrees(exports):
    from memlyze.dask import CaptureTables

    today, earlier, _ = exports

    def peaks(root):
        frame = CaptureTables([str(root)]).peak_by_location().compute(scheduler="synchronous")
        return sorted((row.function, row.file, int(row.line), round(row.bytes),
                       round(row["count"])) for _, row in frame.iterrows())

    assert peaks(earlier) == peaks(today)
    tables = CaptureTables([str(earlier)])
    assert len(tables.native_locations().compute(scheduler="synchronous")) == 0
    assert len(tables.table("native_stacks").compute(scheduler="synchronous")) == 0
    frames = tables.table("frames").compute(scheduler="synchronous")
    assert set(frames["kind"]) == {"python"} and set(frames["module"]) == {""}
