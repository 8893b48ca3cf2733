"""Each Python frame's module (its globals' __name__, recorded by the tracker)
in the data export's frames table: a package module, the script, code run in
a namespace of its own, a thread, and an --aggregate capture; and the report
selectors matching modules."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as parquet
import pytest

from conftest import bytearray_bytes, check, memlyze, write_script

MAKER = """
import threading


def make(size):
    return bytearray(size)


def make_in_thread(size, kept):
    worker = threading.Thread(target=lambda: kept.append(make(size)))
    worker.start()
    worker.join()
"""

SCRIPT = """
from shapes import maker

KEPT = [maker.make(4_111_111)]
maker.make_in_thread(4_222_222, KEPT)
namespace = {"__name__": "generated"}
exec(compile("def build():\\n    return bytearray(4_333_333)\\n", "generated.py", "exec"),
     namespace)
KEPT.append(namespace["build"]())
KEPT.append(bytearray(4_444_444))
"""


def buffer(size: int) -> int:
    """The bytes of bytearray(size)'s buffer, one allocation on every build
    (free-threaded builds record its object as another, smaller one)."""
    return size + 1


# The innermost Python frame of each block: (function, module).
EXPECTED = {
    buffer(4_111_111): ("make", "shapes.maker"),
    buffer(4_222_222): ("make", "shapes.maker"),
    buffer(4_333_333): ("build", "generated"),
    buffer(4_444_444): ("<module>", "__main__"),
}


def _tables(directory: Path) -> dict:
    tables = {}
    for name in ("allocations", "stacks", "frames"):
        [path] = (directory / name).glob("process=*/part-0.parquet")
        tables[name] = parquet.read_table(path).to_pylist()
    return tables


def _write_program(tmp_path: Path) -> Path:
    package = tmp_path / "shapes"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "maker.py").write_text(MAKER)
    return write_script(tmp_path, "program.py", SCRIPT)


def _record(tmp_path: Path, *options: str) -> Path:
    script = _write_program(tmp_path)
    capture = tmp_path / "program.mlyze"
    check(memlyze("run", *options, "-o", capture, script, cwd=tmp_path))
    directory = tmp_path / "tables"
    check(memlyze("export", capture, "--format", "parquet", "-o", directory, cwd=tmp_path))
    return directory


def test_each_block_innermost_frame_names_its_module(tmp_path):
    tables = _tables(_record(tmp_path))
    stacks = {row["stack_id"]: row for row in tables["stacks"]}
    frames = {row["frame_id"]: row for row in tables["frames"]}
    found = {}
    for row in tables["allocations"]:
        if row["size"] in EXPECTED:
            frame = frames[stacks[row["stack_id"]]["frame_id"]]
            found[row["size"]] = (frame["function"], frame["module"])
    assert found == EXPECTED


def test_the_callers_frames_name_theirs(tmp_path):
    tables = _tables(_record(tmp_path))
    stacks = {row["stack_id"]: row for row in tables["stacks"]}
    frames = {row["frame_id"]: row for row in tables["frames"]}
    [row] = [row for row in tables["allocations"] if row["size"] == buffer(4_111_111)]
    chain = []
    stack_id = row["stack_id"]
    while stack_id:
        frame = frames[stacks[stack_id]["frame_id"]]
        chain.append((frame["function"], frame["module"]))
        stack_id = stacks[stack_id]["parent_id"]
    assert chain == [("make", "shapes.maker"), ("<module>", "__main__")]
    by_file = {row["file"]: row["module"] for row in tables["frames"] if row["kind"] == "python"}
    assert {module for file, module in by_file.items() if file.endswith("threading.py")} == \
        {"threading"}


@pytest.mark.parametrize("options", [("--aggregate",)], ids=["aggregate"])
def test_an_aggregate_capture_names_modules_too(tmp_path, options):
    tables = _tables(_record(tmp_path, *options))
    modules = {(row["function"], row["module"]) for row in tables["frames"]}
    assert set(EXPECTED.values()) <= modules


def _big_locations(capture: Path, directory: Path, *selectors: str) -> dict:
    """The selection's leaked locations of over 4 MB: function -> bytes."""
    result = check(memlyze("stats", "--json", "--leaks", *selectors, capture, cwd=directory))
    top = json.loads(result.stdout)["selection"]["top"]
    return {entry["function"]: entry["bytes"] for entry in top if entry["bytes"] > 4_000_000}


def test_report_selectors_match_modules(tmp_path):
    script = _write_program(tmp_path)
    capture = tmp_path / "program.mlyze"
    check(memlyze("run", "-o", capture, script, cwd=tmp_path))
    assert _big_locations(capture, tmp_path, "--include", "shapes.*") == \
        {"make": bytearray_bytes(4_111_111) + bytearray_bytes(4_222_222)}
    assert _big_locations(capture, tmp_path, "--include", "generated") == \
        {"build": bytearray_bytes(4_333_333)}
    assert _big_locations(capture, tmp_path, "--exclude", "shapes.maker",
                          "--exclude", "generated") == {"<module>": bytearray_bytes(4_444_444)}
