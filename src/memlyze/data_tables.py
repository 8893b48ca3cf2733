"""A capture's tables (docs/data.md): Arrow streams from the C core, Parquet
files partitioned by process, and the SQL views every engine shares.

pyarrow and duckdb are optional (the ``data`` extra); this module imports
them only inside the functions that need them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

# In the order a capture gives them: the allocations pass comes first, the
# other tables are ready once it has ended.
TABLES = ("allocations", "stacks", "native_stacks", "frames", "snapshots", "rss", "gc",
          "processes")
NO_PYTHON_FRAME = "<no Python frame>"

# What exports of an earlier layout stand for the columns added since:
# (column, another column of the row to copy) or (column, a text value).
# Every row counts as a block from its allocation; Python frames are of
# unknown module. The DuckDB views and memlyze.dask both fill from here.
ADDED_COLUMNS = {
    "allocations": (("block_event", ("column", "allocated_event")),),
    "frames": (("module", ("value", "")), ("kind", ("value", "python"))),
}
# Tables an earlier export may lack, as the empty table it stands for.
OPTIONAL_TABLES = {
    "native_stacks": (("native_stack_id", "UINTEGER"), ("parent_id", "UINTEGER"),
                      ("frame_id", "UINTEGER"), ("ip", "UBIGINT")),
}


class DataError(Exception):
    """A capture or Parquet directory that cannot be read; one line."""


def require(module: str):
    """Imports an optional dependency, or says how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        import sysconfig

        if module == "duckdb" and sysconfig.get_config_var("Py_GIL_DISABLED"):
            raise DataError("duckdb is not installed, and DuckDB publishes no build for "
                            "free-threaded CPython: run memlyze query with a GIL build "
                            "(its Parquet export works here)") from None
        raise DataError(f"{module} is not installed: pip install 'memlyze[data]'") from None


def table_readers(capture: str):
    """Yields (name, pyarrow.RecordBatchReader) for each table of a capture,
    in TABLES order; each reader must be read before the next is taken."""
    pyarrow = require("pyarrow")
    from memlyze._memlyze import CaptureTables

    tables = CaptureTables(capture)
    for name in TABLES:
        yield name, pyarrow.RecordBatchReader.from_stream(tables.table(name))


def _arrow_error_text(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def export_parquet(capture: str, directory: str) -> int:
    """Writes DIRECTORY/<table>/process=<pid>/part-0.parquet for each table
    of the capture, streaming batch by batch. Returns the pid."""
    pyarrow = require("pyarrow")
    parquet = require("pyarrow.parquet")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".memlyze-export-", dir=root))
    try:
        for name, reader in table_readers(capture):
            with parquet.ParquetWriter(staging / f"{name}.parquet", reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
        process = parquet.read_table(staging / "processes.parquet").column("pid")[0].as_py()
        for name in TABLES:
            if (root / name / f"process={process}").exists():
                raise DataError(f"{directory} already holds process {process}")
        for name in TABLES:
            partition = root / name / f"process={process}"
            partition.mkdir(parents=True)
            os.replace(staging / f"{name}.parquet", partition / "part-0.parquet")
        return process
    except pyarrow.ArrowException as error:
        raise DataError(f"{capture}: {_arrow_error_text(error)}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def parquet_glob(root: str, table: str) -> str:
    return os.path.join(root, table, "process=*", "*.parquet")


# Views over the base tables, the same in DuckDB and (as dataframe code) in
# memlyze.dask. native_chain(pid, id) walks parent_id from a native stack:
# its native frames innermost first (depth 0), as the reports show them with
# every native frame kept. The peak comes from the pass (processes.peak_event), which
# follows the heap event by event as the analysis does. A row is live after event e when allocated_event <= e and
# (freed_event is null or freed_event > e); bytes and counts are estimates
# of the whole (size * weight, weight), exact in a full capture. A row counts
# as a block only from its block_event on: the parts munmaps took from a
# mapping that lived on (null block_event) were never blocks of their own.
VIEWS_SQL = f"""
CREATE OR REPLACE VIEW native_locations AS
  SELECT n.process, n.native_stack_id, n.parent_id, n.ip, f.function, f.file, f.line, f.module
  FROM native_stacks n JOIN frames f ON n.process = f.process AND n.frame_id = f.frame_id;
CREATE OR REPLACE MACRO native_chain(pid, id) AS TABLE
  WITH RECURSIVE chain(depth, native_stack_id, parent_id, ip, function, file, line, module) AS (
    SELECT 0, native_stack_id, parent_id, ip, function, file, line, module
    FROM native_locations WHERE process = pid AND native_stack_id = id
    UNION ALL
    SELECT c.depth + 1, l.native_stack_id, l.parent_id, l.ip, l.function, l.file, l.line, l.module
    FROM chain c JOIN native_locations l ON l.process = pid AND l.native_stack_id = c.parent_id)
  SELECT depth, function, file, line, module, ip FROM chain ORDER BY depth;
CREATE OR REPLACE VIEW stack_locations AS
  SELECT s.process, s.stack_id, f.function, f.file, f.line
  FROM stacks s JOIN frames f ON s.process = f.process AND s.frame_id = f.frame_id;
CREATE OR REPLACE VIEW located_allocations AS
  SELECT a.*, coalesce(l.function, '{NO_PYTHON_FRAME}') AS function,
         coalesce(l.file, '') AS file, coalesce(l.line, 0) AS line
  FROM allocations a LEFT JOIN stack_locations l
    ON a.process = l.process AND a.stack_id = l.stack_id;
CREATE OR REPLACE VIEW peaks AS
  SELECT process, peak_bytes, peak_event FROM processes;
CREATE OR REPLACE VIEW peak_by_location AS
  SELECT a.process, function, file, line,
         round(sum(size * weight))::UBIGINT AS bytes,
         round(coalesce(sum(weight) FILTER (WHERE block_event <= peak_event), 0))::UBIGINT AS count
  FROM located_allocations a JOIN peaks p ON a.process = p.process
  WHERE allocated_event <= peak_event AND (freed_event IS NULL OR freed_event > peak_event)
  GROUP BY ALL ORDER BY bytes DESC, count DESC, function, file, line;
CREATE OR REPLACE VIEW leaks_by_location AS
  SELECT process, function, file, line,
         round(sum(size * weight))::UBIGINT AS bytes, round(sum(weight))::UBIGINT AS count
  FROM located_allocations WHERE freed_event IS NULL
  GROUP BY ALL ORDER BY bytes DESC, count DESC, function, file, line;
CREATE OR REPLACE VIEW total_by_location AS
  SELECT process, function, file, line,
         round(sum(size * weight))::UBIGINT AS bytes,
         round(sum(weight) FILTER (WHERE piece = 0))::UBIGINT AS count
  FROM located_allocations
  GROUP BY ALL ORDER BY bytes DESC, count DESC, function, file, line;
CREATE OR REPLACE MACRO growth_between_snapshots(k0, k1) AS TABLE
  SELECT a.process, function, file, line,
         round(sum(CASE WHEN allocated_event <= s1.event AND (freed_event IS NULL OR freed_event > s1.event) THEN size * weight ELSE 0 END)
             - sum(CASE WHEN allocated_event <= s0.event AND (freed_event IS NULL OR freed_event > s0.event) THEN size * weight ELSE 0 END))::BIGINT AS growth_bytes,
         round(sum(CASE WHEN block_event <= s1.event AND (freed_event IS NULL OR freed_event > s1.event) THEN weight ELSE 0 END)
             - sum(CASE WHEN block_event <= s0.event AND (freed_event IS NULL OR freed_event > s0.event) THEN weight ELSE 0 END))::BIGINT AS growth_count
  FROM located_allocations a
    JOIN snapshots s0 ON s0.process = a.process AND s0.snapshot = k0
    JOIN snapshots s1 ON s1.process = a.process AND s1.snapshot = k1
  GROUP BY ALL HAVING growth_bytes <> 0 OR growth_count <> 0
  ORDER BY growth_bytes DESC, function, file, line;
CREATE OR REPLACE MACRO growth_by_location(t0, t1) AS TABLE
  SELECT a.process, function, file, line,
         round(sum(CASE WHEN time_ns <= t1 * 1e9 AND (freed_event IS NULL OR freed_time_ns > t1 * 1e9) THEN size * weight ELSE 0 END)
             - sum(CASE WHEN time_ns <= t0 * 1e9 AND (freed_event IS NULL OR freed_time_ns > t0 * 1e9) THEN size * weight ELSE 0 END))::BIGINT AS growth_bytes,
         round(sum(CASE WHEN block_event IS NOT NULL AND time_ns <= t1 * 1e9 AND (freed_event IS NULL OR freed_time_ns > t1 * 1e9) THEN weight ELSE 0 END)
             - sum(CASE WHEN block_event IS NOT NULL AND time_ns <= t0 * 1e9 AND (freed_event IS NULL OR freed_time_ns > t0 * 1e9) THEN weight ELSE 0 END))::BIGINT AS growth_count
  FROM located_allocations a
  GROUP BY ALL HAVING growth_bytes <> 0 OR growth_count <> 0
  ORDER BY growth_bytes DESC, function, file, line;
"""


def connect(roots: list[str], scratch: str | None = None):
    """A DuckDB connection with the base tables as views over the Parquet
    directories in roots and the helper views of VIEWS_SQL; DuckDB spills
    to scratch (a directory the caller removes) when given."""
    duckdb = require("duckdb")
    connection = duckdb.connect()
    if scratch:
        spill = os.path.join(scratch, "duckdb-spill")
        connection.execute("SET temp_directory = '" + spill.replace("'", "''") + "'")
    for table in TABLES:
        connection.execute(f"CREATE VIEW {table} AS {_table_sql(connection, roots, table)}")
    connection.execute(VIEWS_SQL)
    return connection


def _table_sql(connection, roots: list[str], table: str) -> str:
    """The query a base table's view runs: its Parquet files, with the
    columns an earlier export lacks (ADDED_COLUMNS, OPTIONAL_TABLES)."""
    import glob

    files = [parquet_glob(root, table) for root in roots]
    if table in OPTIONAL_TABLES and not any(glob.glob(path) for path in files):
        columns = [f"NULL::{kind} AS {name}" for name, kind in OPTIONAL_TABLES[table]]
        return f"SELECT {', '.join(columns)}, NULL::BIGINT AS process WHERE false"
    listed = ", ".join("'" + path.replace("'", "''") + "'" for path in files)
    source = f"read_parquet([{listed}], hive_partitioning = true, union_by_name = true)"
    added = ADDED_COLUMNS.get(table, ())
    present = set()
    if added:
        present = {row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    extra = "".join(f", {_default_sql(default)} AS {name}" for name, default in added
                    if name not in present)
    return f"SELECT *{extra} FROM {source}"


def _default_sql(default: tuple[str, str]) -> str:
    kind, text = default
    return text if kind == "column" else "'" + text.replace("'", "''") + "'"
