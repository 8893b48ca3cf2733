"""Fleet-scale views of many captures' Parquet exports on Dask (docs/data.md).

    from distributed import Client
    import memlyze.dask
    client = Client("scheduler:8786")          # or distributed.LocalCluster()
    tables = memlyze.dask.CaptureTables(["exports/"])   # any number of roots
    tables.peak_by_location().compute()

The layout is what ``memlyze export --format parquet`` writes:
``ROOT/<table>/process=<pid>/part-0.parquet``. Each process's peak event is
the one its export found (the heap followed event by event, as `stats`
does); what each location held then is computed per process on the
workers, then summed across processes. Nothing else in
memlyze imports this module; it needs ``dask[distributed]`` and pyarrow.
"""

from __future__ import annotations

import glob
import os

from memlyze.data_tables import (ADDED_COLUMNS, NO_PYTHON_FRAME, OPTIONAL_TABLES, TABLES,
                                  DataError)

__all__ = ["CaptureTables"]

_LOCATION = ["function", "file", "line"]
# The allocation columns the views need: a task holds one process's rows.
_ROW_COLUMNS = ["allocated_event", "freed_event", "size", "weight", "stack_id", "block_event"]


def _files(roots, table):
    files = []
    for root in roots:
        files += sorted(glob.glob(os.path.join(root, table, "process=*", "*.parquet")))
    if not files and table not in OPTIONAL_TABLES:
        raise DataError(f"no {table} Parquet files under {', '.join(map(str, roots))}")
    return files


def _process_of(path: str) -> int:
    return int(os.path.basename(os.path.dirname(path)).split("=", 1)[1])


def _read_one(path: str, columns=None):
    """One process's table as a pandas frame with its process column."""
    import pandas
    import pyarrow.parquet as parquet

    # Dask pushes a projection down as columns; process is not in the file,
    # nor, in an export of an earlier layout, the columns added since.
    in_file = set(parquet.read_schema(path).names)
    stored = None if columns is None else [name for name in columns if name in in_file]
    frame = parquet.read_table(path, columns=stored).to_pandas()
    _add_missing_columns(frame, os.path.basename(os.path.dirname(os.path.dirname(path))))
    frame["process"] = pandas.Series(_process_of(path), index=frame.index, dtype="int64")
    return frame


def _empty_frame(columns):
    """A dask dataframe of no rows with these columns."""
    import dask.dataframe as dd
    import pandas

    texts = {"function", "file", "module"}
    return dd.from_pandas(pandas.DataFrame({
        column: pandas.Series(dtype="object" if column in texts else "int64")
        for column in columns}), npartitions=1)


def _add_missing_columns(frame, table: str) -> None:
    """The columns of ADDED_COLUMNS an earlier export lacks, filled as the
    DuckDB views fill them (a copy only when its source column was read)."""
    for name, (kind, text) in ADDED_COLUMNS.get(table, ()):
        if name in frame:
            continue
        if kind == "value":
            frame[name] = text
        elif text in frame:
            frame[name] = frame[text]


def _located(allocations, stacks, frames):
    """Allocations of one process with their innermost frame's location."""
    located = stacks.merge(frames, on=["process", "frame_id"])[["stack_id", *_LOCATION]]
    merged = allocations.merge(located, on="stack_id", how="left")
    merged["function"] = merged["function"].fillna(NO_PYTHON_FRAME)
    merged["file"] = merged["file"].fillna("")
    merged["line"] = merged["line"].fillna(0).astype("int64")
    return merged


def _process_native_locations(native_stack_path, frame_path):
    """One process's native_stacks rows with each frame's location."""
    native = _read_one(native_stack_path)
    frames = _read_one(frame_path, ["frame_id", *_LOCATION, "module"])
    return native.merge(frames.drop(columns="process"), on="frame_id")[
        ["process", "native_stack_id", "parent_id", "ip", *_LOCATION, "module"]]


def _peak_event(process_path: str) -> int:
    """The event of one process's peak, as the export's pass found it."""
    import pyarrow.parquet as parquet

    return parquet.read_table(process_path, columns=["peak_event"]).column(0)[0].as_py()


def _process_peak_by_location(allocation_path, stack_path, frame_path, process_path):
    """What each location of one process held at its peak (a pandas frame)."""
    allocations = _read_one(allocation_path, _ROW_COLUMNS)
    peak_event = _peak_event(process_path)
    live = allocations[(allocations["allocated_event"] <= peak_event)
                       & (allocations["freed_event"].isna()
                          | (allocations["freed_event"] > peak_event))]
    located = _located(live, _read_one(stack_path), _read_one(frame_path))
    located["bytes"] = located["size"] * located["weight"]
    # parts an munmap took from a mapping were no blocks of their own then
    block_event = located["block_event"]
    counted = block_event.notna() & (block_event.fillna(0) <= peak_event)
    located["blocks"] = located["weight"].where(counted, 0.0)
    grouped = located.groupby(["process", *_LOCATION], as_index=False)
    return grouped.agg(bytes=("bytes", "sum"), count=("blocks", "sum"))


class CaptureTables:
    """The tables of every process under the given Parquet roots."""

    def __init__(self, roots):
        self.roots = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
        self._files = {table: _files(self.roots, table) for table in TABLES}
        by_process = {table: {_process_of(path): path for path in self._files[table]}
                      for table in ("allocations", "stacks", "native_stacks", "frames",
                                    "processes")}
        self._processes = sorted(by_process["allocations"])
        self._by_process = by_process

    def table(self, name: str):
        """A dask dataframe of one base table (with a ``process`` column)."""
        import dask.dataframe as dd

        if name not in TABLES:
            raise DataError(f"no table named {name!r}")
        if not self._files[name]:  # an optional table an earlier export lacks
            columns = [column for column, _ in OPTIONAL_TABLES[name]]
            return _empty_frame([*columns, "process"])
        return dd.from_map(_read_one, self._files[name])

    def peaks(self):
        """Each process's peak: process, peak_bytes, peak_event."""
        return self.table("processes")[["process", "peak_bytes", "peak_event"]]

    def native_locations(self):
        """native_stacks with each frame's function, file, line and module
        (walk parent_id from an allocation's native_stack_id for its chain)."""
        import dask.dataframe as dd

        native = self._by_process["native_stacks"]
        paths = [(native[process], self._by_process["frames"][process])
                 for process in self._processes if process in native]
        if not paths:  # exports of an earlier layout have no native_stacks
            return _empty_frame(["process", "native_stack_id", "parent_id", "ip", *_LOCATION,
                                 "module"])
        return dd.from_map(lambda pair: _process_native_locations(*pair), paths)

    def _per_process_peaks(self):
        import dask.dataframe as dd

        paths = [tuple(self._by_process[table][process]
                       for table in ("allocations", "stacks", "frames", "processes"))
                 for process in self._processes]
        return dd.from_map(lambda paths: _process_peak_by_location(*paths), paths)

    def peak_by_location(self, per_process: bool = False):
        """Bytes and blocks each location held at its process's peak, summed
        over processes (or per process), largest first once computed."""
        frame = self._per_process_peaks()
        if per_process:
            return frame
        summed = frame.groupby(_LOCATION).agg({"bytes": "sum", "count": "sum"}).reset_index()
        return summed

    def leaks_by_location(self):
        """Bytes and blocks live at the end of each process, by location."""
        import dask.dataframe as dd

        def leaked(triple):
            allocations = _read_one(triple[0], _ROW_COLUMNS)
            stacks, frames = _read_one(triple[1]), _read_one(triple[2])
            live = allocations[allocations["freed_event"].isna()]
            located = _located(live, stacks, frames)
            located["bytes"] = located["size"] * located["weight"]
            return located.groupby(["process", *_LOCATION], as_index=False).agg(
                bytes=("bytes", "sum"), count=("weight", "sum"))

        paths = [(self._by_process["allocations"][process], self._by_process["stacks"][process],
                  self._by_process["frames"][process]) for process in self._processes]
        frame = dd.from_map(leaked, paths)
        return frame.groupby(_LOCATION).agg({"bytes": "sum", "count": "sum"}).reset_index()
