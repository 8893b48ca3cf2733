"""``memlyze query CAPTURE... "SQL" [--format table|csv|json]``: SQL over
captures' tables with embedded DuckDB (docs/data.md).

Each CAPTURE is a .mlyze file (exported to Parquet in a temporary directory
first, streaming: memory bounded by its live heap) or a directory written
by ``memlyze export --format parquet``. Several captures are one set of
tables told apart by their ``process`` column.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile

from ._common import CliError, UsageError, check_capture_path, describe_capture_error, make_parser

DESCRIPTION = "SQL over captures' tables with DuckDB (peak_by_location, leaks_by_location, ...)"

EPILOG = """
tables:  allocations, stacks, native_stacks, frames, snapshots, rss, gc, processes
views:   peak_by_location, leaks_by_location, total_by_location, peaks,
         located_allocations (allocations with function, file, line),
         native_locations (native_stacks with each frame's function, file, line, module)
macros:  growth_by_location(t0, t1)         seconds since the capture started
         growth_between_snapshots(k0, k1)   snapshot numbers (1-based)
         native_chain(pid, native_stack_id) a native stack's frames, innermost first

examples:
  memlyze query app.mlyze "SELECT * FROM peak_by_location LIMIT 10"
  memlyze query app.mlyze "SELECT * FROM growth_between_snapshots(1, 2)" --format csv
  memlyze query out/ "SELECT process, peak_bytes FROM peaks"    (a Parquet export)"""


def build_parser():
    parser = make_parser("query", DESCRIPTION, epilog=EPILOG)
    parser.add_argument("inputs", nargs="+", metavar="CAPTURE... SQL",
                        help="capture files or Parquet export directories, then the query")
    parser.add_argument("--format", default="table", choices=("table", "csv", "json"),
                        help="output: an aligned table (default), CSV or JSON rows")
    return parser


def _text(value) -> str:
    return "NULL" if value is None else str(value)


def _write_table(columns: list[str], rows: list[tuple]) -> None:
    from memlyze.formatting import terminal_text

    cells = [[terminal_text(_text(value)) for value in row] for row in rows]
    widths = [max([len(name)] + [len(row[index]) for row in cells])
              for index, name in enumerate(columns)]
    lines = ["  ".join(name.ljust(width) for name, width in zip(columns, widths)).rstrip(),
             "  ".join("-" * width for width in widths)]
    for row in cells:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    sys.stdout.write("\n".join(lines) + "\n")


def _write(form: str, columns: list[str], rows: list[tuple]) -> None:
    if form == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif form == "json":
        records = [dict(zip(columns, row)) for row in rows]
        sys.stdout.write(json.dumps(records, default=str, ensure_ascii=False) + "\n")
    else:
        _write_table(columns, rows)


def _roots(inputs: list[str], scratch: str) -> list[str]:
    """Parquet roots for the inputs, exporting capture files into scratch."""
    from memlyze import _memlyze
    from memlyze.data_tables import DataError, export_parquet

    roots = []
    for path in inputs:
        if os.path.isdir(path):
            if not os.path.isdir(os.path.join(path, "allocations")):
                raise CliError(f"{path} is not a memlyze Parquet export (no allocations/)")
            roots.append(path)
            continue
        check_capture_path(path)
        root = os.path.join(scratch, str(len(roots)))
        try:
            export_parquet(path, root)
        except DataError as error:
            raise CliError(str(error)) from None
        except (_memlyze.CaptureError, OSError, MemoryError, RuntimeError) as error:
            raise CliError(describe_capture_error(path, error)) from None
        roots.append(root)
    _refuse_shared_processes(inputs, roots)
    return roots


def _refuse_shared_processes(inputs: list[str], roots: list[str]) -> None:
    """Two inputs of one process id would merge into one process."""
    seen = {}
    for path, root in zip(inputs, roots):
        for partition in sorted(os.listdir(os.path.join(root, "allocations"))):
            if partition in seen:
                raise CliError(f"{seen[partition]} and {path} both hold {partition}: "
                               "query them apart")
            seen[partition] = path


def main(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    if len(options.inputs) < 2:
        raise UsageError("give at least one capture and then the SQL query")
    *inputs, sql = options.inputs
    from memlyze.data_tables import DataError, connect, require

    try:
        duckdb = require("duckdb")
    except DataError as error:
        raise CliError(str(error)) from None
    with tempfile.TemporaryDirectory(prefix="memlyze-query-") as scratch:
        try:
            connection = connect(_roots(inputs, scratch), scratch)
            result = connection.execute(sql)
            columns = [column[0] for column in result.description or ()]
            rows = result.fetchall() if columns else []
        except DataError as error:
            raise CliError(str(error)) from None
        except duckdb.Error as error:
            raise CliError(str(error).strip().splitlines()[0], status=2) from None
    if columns:
        _write(options.format, columns, rows)
    return 0
