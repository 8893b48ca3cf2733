"""Issue 18: the native frames of a --native capture in the Parquet export.
Walking native_stacks' parent_id from an allocation's native_stack_id gives
the C functions of a known call chain in order, inlined ones included, the
same frames the reports show with every native frame kept; a capture
without --native has an empty native_stacks table and only Python frames."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as parquet
import pytest

from conftest import FREE_THREADED, check, memlyze, write_script
from native_build import build_extension

try:
    import duckdb
except ImportError:
    if not FREE_THREADED:
        raise
    duckdb = None  # DuckDB publishes no wheel for free-threaded CPython

EVALUATION_FUNCTION = "_PyEval_EvalFrameDefault"
DIRECT_SIZE = 3_000_001
INLINED_SIZE = 2_000_003

WORKLOAD = f"""
import sys

sys.path.insert(0, sys.argv[1])
import native_allocations as native


def direct():
    native.allocate({DIRECT_SIZE})


def inlined():
    native.allocate_inlined({INLINED_SIZE})


direct()
inlined()
"""


def _export(directory: Path, capture: Path) -> Path:
    out = directory / f"{capture.stem}-tables"
    check(memlyze("export", capture, "--format", "parquet", "-o", out, cwd=directory))
    return out


def _read(directory: Path, table: str):
    [path] = (directory / table).glob("process=*/part-0.parquet")
    return parquet.read_table(path)


@pytest.fixture(scope="module")
def native_export(tmp_path_factory):
    """(extension path, capture, Parquet directory) of WORKLOAD with --native."""
    directory = tmp_path_factory.mktemp("native_export")
    extension = build_extension(directory)
    script = write_script(directory, "workload.py", WORKLOAD)
    capture = directory / "native.mlyze"
    result = check(memlyze("run", "--native", "-o", capture, script, directory, cwd=directory))
    assert "warning" not in result.stderr
    return extension, capture, _export(directory, capture)


class Tables:
    """The exported rows, and native stacks walked through them."""

    def __init__(self, directory: Path):
        self.allocations = _read(directory, "allocations").to_pylist()
        self.native_rows = {row["native_stack_id"]: row
                            for row in _read(directory, "native_stacks").to_pylist()}
        self.frames = {row["frame_id"]: row for row in _read(directory, "frames").to_pylist()}

    def allocation(self, size: int) -> dict:
        [row] = [row for row in self.allocations if row["size"] == size]
        return row

    def chain(self, native_stack_id: int) -> list[dict]:
        """The native frames of a stack, innermost first, each a frames row
        with the native_stacks row's ip."""
        frames = []
        while native_stack_id:
            row = self.native_rows[native_stack_id]
            frames.append({**self.frames[row["frame_id"]], "ip": row["ip"]})
            native_stack_id = row["parent_id"]
            assert len(frames) < 10_000, "a cycle in native_stacks"
        return frames


@pytest.fixture(scope="module")
def native_tables(native_export):
    return Tables(native_export[2])


def _same_file(path: str, expected: Path) -> bool:
    return path != "" and Path(path).resolve() == expected.resolve()


def test_known_c_functions_in_order_with_module_and_kind(native_export, native_tables):
    extension = native_export[0]
    chain = native_tables.chain(native_tables.allocation(DIRECT_SIZE)["native_stack_id"])
    assert [frame["function"] for frame in chain[:3]] == [
        "native_allocation_leaf", "native_allocation_middle", "allocate"], chain[:5]
    for frame in chain[:3]:
        assert frame["kind"] == "native"
        assert _same_file(frame["module"], extension), frame
    assert Path(chain[0]["file"]).name == "native_allocations.c" and chain[0]["line"] > 0
    # Further out: the interpreter's frames, then the program's entry.
    functions = [frame["function"] for frame in chain]
    assert EVALUATION_FUNCTION in functions and "Py_RunMain" in functions, functions
    assert functions.index(EVALUATION_FUNCTION) < functions.index("Py_RunMain")
    assert all(frame["kind"] == "native" for frame in chain)


def test_inlined_function_is_a_frame_of_its_own_at_its_callers_address(native_export,
                                                                       native_tables):
    extension = native_export[0]
    start = native_tables.allocation(INLINED_SIZE)["native_stack_id"]
    chain = native_tables.chain(start)
    assert [frame["function"] for frame in chain[:4]] == [
        "native_allocation_leaf", "native_inlined_step", "native_inlining_caller",
        "allocate_inlined"], chain[:5]
    assert all(_same_file(frame["module"], extension) for frame in chain[:4])
    # One recorded address, two frames: the inlined one and its caller.
    assert chain[1]["ip"] == chain[2]["ip"] != chain[0]["ip"]
    # The recorded stack of that address has its own id on the inlined
    # frame's row; the frame it was inlined into has an id after every
    # recorded native stack's, and the recorded caller as parent.
    inlined_id = native_tables.native_rows[start]["parent_id"]
    caller_id = native_tables.native_rows[inlined_id]["parent_id"]
    outer_id = native_tables.native_rows[caller_id]["parent_id"]
    from memlyze import FileReader

    with FileReader(native_export[1]) as reader:
        recorded = reader.native_stack(inlined_id)
        assert [frame[0] for frame in recorded[:3]] == [
            "native_inlined_step", "native_inlining_caller", "allocate_inlined"]
        assert recorded[0][5] == "inlined"
        assert reader.native_stack(outer_id)[0][0] == "allocate_inlined"
        with pytest.raises(ValueError):
            reader.native_stack(caller_id)


def _merged_native_frames(reader, stack_id: int, native_stack_id: int) -> list[tuple]:
    """The native frames of the reports' merged stack (every native frame
    kept), without the evaluation loop's, which the merge replaces by the
    Python frames it ran."""
    return [(function, file, line)
            for function, file, line, kind in reader.merged_stack(stack_id, native_stack_id)
            if kind == "native" and function != EVALUATION_FUNCTION]


def _located(chain) -> list[tuple]:
    return [(frame["function"], frame["file"], frame["line"]) for frame in chain
            if frame["function"] != EVALUATION_FUNCTION]


def test_chains_equal_the_reports_native_frames(native_export, native_tables):
    from memlyze import FileReader

    _, capture, _ = native_export
    pairs = sorted({(row["stack_id"], row["native_stack_id"]) for row in native_tables.allocations
                    if row["native_stack_id"]})
    known = {(row["stack_id"], row["native_stack_id"])
             for row in native_tables.allocations if row["size"] in (DIRECT_SIZE, INLINED_SIZE)}
    # Every pair would take long on a big capture: the known ones and a spread.
    checked = sorted(known | set(pairs[::max(1, len(pairs) // 150)]))
    with FileReader(capture) as reader:
        for stack_id, native_stack_id in checked:
            chain = native_tables.chain(native_stack_id)
            assert _located(chain) == _merged_native_frames(reader, stack_id, native_stack_id)
            # The reader's own native stack: the same frames, addresses and objects.
            native = reader.native_stack(native_stack_id)
            assert [frame["ip"] for frame in chain] == [frame[3] for frame in native]
            assert [frame["module"] for frame in chain] == [frame[4] for frame in native]
    assert len(checked) >= 2


def test_summary_shows_the_chain_the_table_gives(native_export, native_tables):
    _, capture, _ = native_export
    output = check(memlyze("summary", "-n", "3", capture, cwd=capture.parent)).stdout
    chain = native_tables.chain(native_tables.allocation(DIRECT_SIZE)["native_stack_id"])
    # The largest allocation's stack, frame after frame as the table names them.
    position = output.index("Native and Python stack of the largest allocation")
    for frame in chain[:3]:
        position = output.index(f"{frame['function']} {frame['file']}:{frame['line']}", position)


@pytest.mark.skipif(duckdb is None, reason="DuckDB has no build for free-threaded CPython")
def test_duckdb_native_chain_walks_the_same_frames(native_export, native_tables):
    from memlyze.data_tables import connect

    directory = native_export[2]
    allocation = native_tables.allocation(INLINED_SIZE)
    [process] = _read(directory, "processes").column("pid").to_pylist()
    connection = connect([str(directory)])
    rows = connection.execute("SELECT function, file, line, module, ip FROM native_chain(?, ?)",
                              [process, allocation["native_stack_id"]]).fetchall()
    chain = native_tables.chain(allocation["native_stack_id"])
    assert rows == [(frame["function"], frame["file"], frame["line"], frame["module"],
                     frame["ip"]) for frame in chain]
    kinds = connection.execute("SELECT DISTINCT kind FROM frames f JOIN native_stacks n "
                               "ON f.frame_id = n.frame_id ORDER BY kind").fetchall()
    assert kinds == [("native",)]


def test_capture_without_native_has_no_native_rows(tmp_path):
    script = write_script(tmp_path, "plain.py",
                          "blocks = [bytearray(1_000_000) for _ in range(3)]\n")
    capture = tmp_path / "plain.mlyze"
    check(memlyze("run", "-o", capture, script, cwd=tmp_path))
    directory = _export(tmp_path, capture)
    native_stacks = _read(directory, "native_stacks")
    assert native_stacks.num_rows == 0
    # Some pyarrow versions add the hive partition's column when reading a file.
    names = [name for name in native_stacks.schema.names if name != "process"]
    assert names == ["native_stack_id", "parent_id", "frame_id", "ip"]
    frames = _read(directory, "frames").to_pylist()
    assert frames and {row["kind"] for row in frames} == {"python"}
    assert {row["module"] for row in frames
            if row["function"] == "<module>" and row["file"] == str(script)} == {"__main__"}
    assert [row["frame_id"] for row in frames] == list(range(1, len(frames) + 1))
    assert "<module>" in {row["function"] for row in frames}
    assert {row["native_stack_id"] for row in _read(directory, "allocations").to_pylist()} == {0}


def test_dask_native_locations_give_the_chain(native_export, native_tables):
    from memlyze.dask import CaptureTables as DaskTables

    directory = native_export[2]
    tables = DaskTables([str(directory)])
    located = tables.native_locations().compute(scheduler="synchronous")
    rows = {row["native_stack_id"]: row for row in located.to_dict("records")}
    assert len(rows) == len(native_tables.native_rows)
    native_stack_id = native_tables.allocation(INLINED_SIZE)["native_stack_id"]
    walked = []
    while native_stack_id:
        row = rows[native_stack_id]
        walked.append((row["function"], row["file"], row["line"], row["module"], row["ip"]))
        native_stack_id = row["parent_id"]
    assert walked == [(frame["function"], frame["file"], frame["line"], frame["module"],
                       frame["ip"]) for frame in native_tables.chain(
                           native_tables.allocation(INLINED_SIZE)["native_stack_id"])]
    assert len(tables.table("native_stacks").compute(scheduler="synchronous")) == len(rows)
