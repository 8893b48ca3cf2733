"""--native: native call chains recorded with each allocation, symbolised at
report time and merged with the Python stack at the interpreter's
evaluation frames; what happens when unwinding or symbolising cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import check, clean_env, line_of, memlyze, write_script
from native_build import build_extension, build_late_library

CHAINS = """
import sys

sys.path.insert(0, sys.argv[1])
import native_allocations as native


def inner_python():
    native.allocate(1_234_567)  # INNER


def direct():
    native.allocate(3_000_001)  # DIRECT


def chain():
    native.call_back(inner_python, 2_222_223)  # CHAIN


direct()
chain()
native.allocate_in_thread(1_111_119, "c-native")
import ctypes

late = ctypes.CDLL(sys.argv[2])  # loaded after tracking started: its mapping comes then
late.late_library_allocate(ctypes.c_ulong(3_333_331))  # LATE
"""


def merged_stacks(capture, sizes):
    """{size: merged stack} for the allocations of those sizes."""
    from memlyze import FileReader

    with FileReader(capture) as reader:
        return {record.size: reader.merged_stack(record.stack_id, record.native_stack_id)
                for record in reader.records() if record.kind == "alloc" and record.size in sizes}


def names(stack, script=None):
    """The stack as (kind, function[, line for Python frames of script])."""
    result = []
    for function, file, line, kind in stack:
        if kind == "python" and script is not None and Path(file).name == script.name:
            result.append((kind, function, line))
        else:
            result.append((kind, function))
    return result


def ordered_in(expected, actual):
    """True when expected occurs in actual in that order (others in between)."""
    position = 0
    for item in actual:
        if position < len(expected) and item == expected[position]:
            position += 1
    return position == len(expected)


def record_chains(directory):
    """Builds the extension in directory and records CHAINS with --native."""
    build_extension(directory)
    library = build_late_library(directory)
    script = write_script(directory, "chains.py", CHAINS)
    capture = directory / "chains.mlyze"
    result = check(memlyze("run", "--native", "-o", capture, script, directory, library,
                           cwd=directory))
    assert "warning" not in result.stderr
    return directory, script, capture


@pytest.fixture(scope="module")
def native_capture(tmp_path_factory):
    return record_chains(tmp_path_factory.mktemp("native_stacks"))


@pytest.fixture(scope="module")
def report_capture(tmp_path_factory):
    """A capture of its own: test_changed_object_... rebuilds the extension."""
    return record_chains(tmp_path_factory.mktemp("native_reports"))


def test_c_functions_in_order_above_the_python_frames(native_capture):
    _, script, capture = native_capture
    stack = names(merged_stacks(capture, {3_000_001})[3_000_001], script)
    assert stack[:3] == [("native", "native_allocation_leaf"), ("native", "native_allocation_middle"),
                         ("native", "allocate")], stack
    python = [item for item in stack if item[0] == "python"]
    assert python[:2] == [("python", "direct", line_of(script, "DIRECT")),
                          ("python", "<module>", line_of(script, "DIRECT") + 7)], stack
    assert ("native", "_PyEval_EvalFrameDefault") not in stack


def test_python_c_python_c_chain_is_merged_in_call_order(native_capture):
    _, script, capture = native_capture
    stacks = merged_stacks(capture, {1_234_567, 2_222_223})
    inner = names(stacks[1_234_567], script)
    assert ordered_in([
        ("native", "native_allocation_leaf"),
        ("native", "allocate"),
        ("python", "inner_python", line_of(script, "INNER")),
        ("native", "native_call_python"),
        ("native", "call_back"),
        ("python", "chain", line_of(script, "CHAIN")),
        ("python", "<module>", line_of(script, "CHAIN") + 4),
        ("native", "Py_RunMain"),
    ], inner), inner
    outer = names(stacks[2_222_223], script)
    assert ordered_in([("native", "native_allocation_middle"), ("native", "native_call_python"),
                       ("python", "chain", line_of(script, "CHAIN"))], outer), outer
    assert ("python", "inner_python", line_of(script, "INNER")) not in outer


def test_thread_from_c_has_its_native_stack_and_no_python_frame(native_capture):
    _, _, capture = native_capture
    stack = merged_stacks(capture, {1_111_119})[1_111_119]
    assert [kind for *_, kind in stack] == ["native"] * len(stack)
    functions = [function for function, *_ in stack]
    assert functions[:2] == ["native_thread_allocation", "native_thread_main"], functions


def test_library_loaded_after_start_is_symbolised(native_capture):
    _, script, capture = native_capture
    stack = names(merged_stacks(capture, {3_333_331})[3_333_331], script)
    assert stack[0] == ("native", "late_library_allocate"), stack
    assert ("python", "<module>", line_of(script, "LATE")) in stack, stack


def test_summary_shows_merged_stacks(native_capture):
    directory, script, capture = native_capture
    output = check(memlyze("summary", "-n", "3", capture, cwd=directory)).stdout
    assert "Native and Python stack of the largest allocation" in output
    leaf = output.index("native_allocation_leaf")
    assert leaf < output.index("allocate ", leaf) < output.index("[py] direct", leaf), output


def test_native_frames_have_source_lines(native_capture):
    from memlyze import FileReader

    _, _, capture = native_capture
    with FileReader(capture) as reader:
        record = next(record for record in reader.records() if record.size == 3_000_001)
        frames = reader.native_stack(record.native_stack_id)
    leaf = frames[0]
    assert leaf[0] == "native_allocation_leaf" and Path(leaf[1]).name == "native_allocations.c"
    assert leaf[2] > 0 and leaf[5] == ""


def test_changed_object_is_reported_unresolved_not_misnamed(native_capture, tmp_path):
    directory, script, capture = native_capture
    moved = tmp_path / "chains.mlyze"
    moved.write_bytes(capture.read_bytes())
    # Rebuild the extension in place: same path, other code, another build-id.
    build_extension(directory, extra_flags=["-O2", "-DREBUILT=1", "-fno-inline"])
    from memlyze import FileReader

    with FileReader(moved) as reader:
        record = next(record for record in reader.records() if record.size == 3_000_001)
        frames = reader.native_stack(record.native_stack_id)
        merged = reader.merged_stack(record.stack_id, record.native_stack_id)
    extension = [frame for frame in frames if frame[4].endswith(".so") and "native_allocations" in frame[4]]
    assert extension and all(frame[0] is None and frame[5] == "build-id mismatch" for frame in extension)
    assert merged[0][0].startswith("<unresolved 0x") and "build-id mismatch" in merged[0][0]
    assert "native_allocation_leaf" not in [frame[0] for frame in merged]
    assert any(frame[0] == "cfunction_vectorcall_O" for frame in frames)  # the rest still resolves
    assert ("direct", line_of(script, "DIRECT")) in [(frame[0], frame[2]) for frame in merged]


def test_native_where_unwinding_fails_warns_and_records_without(tmp_path):
    script = write_script(tmp_path, "plain.py", "blocks = [bytearray(1_000_000) for _ in range(3)]\n")
    env = clean_env(MEMLYZE_TEST_NATIVE_UNWIND_FAILS="1")
    result = check(memlyze("run", "--native", "-o", "plain.mlyze", script, cwd=tmp_path, env=env))
    assert result.stderr.strip() == (
        "memlyze: warning: --native: unwinding is disabled (MEMLYZE_TEST_NATIVE_UNWIND_FAILS is "
        "set); recording without native frames")
    from memlyze import FileReader

    with FileReader(tmp_path / "plain.mlyze") as reader:
        assert reader.metadata["native"] is False
        sizes = [record.size for record in reader.records()
                 if record.kind == "alloc" and record.native_stack_id == 0]
    assert sizes.count(1_000_001) == 3


def test_tracker_native_option(tmp_path):
    code = (
        "import memlyze\n"
        "with memlyze.Tracker('api.mlyze', native=True):\n"
        "    block = bytearray(4_000_000)\n"
    )
    check(memlyze("run", "-o", "outer.mlyze", "-c", "pass", cwd=tmp_path))
    from conftest import python

    check(python("-c", code, cwd=tmp_path))
    from memlyze import FileReader

    with FileReader(tmp_path / "api.mlyze") as reader:
        assert reader.metadata["native"] is True
        record = next(record for record in reader.records() if record.size == 4_000_001)
        assert record.native_stack_id > 0
        merged = reader.merged_stack(record.stack_id, record.native_stack_id)
    assert ("<module>", "python") in [(frame[0], frame[3]) for frame in merged]


def flame_paths(capture, native_frames="all"):
    """Each flame graph node's path of function names, outermost first."""
    from memlyze.reports.flame_data import build_flame_data

    data = build_flame_data(capture, selection="total", progress=None,
                            native_frames=native_frames)
    nodes, strings = data["nodes"], data["strings"]
    paths = []
    for index, parent in enumerate(nodes["parent"]):
        path = []
        while index > 0:
            path.append(strings[nodes["function"][index]])
            index = nodes["parent"][index]
        paths.append(path[::-1])
    return paths


def test_flame_graph_shows_c_functions_below_their_python_caller(report_capture):
    _, _, capture = report_capture
    leaves = [path for path in flame_paths(capture) if path and path[-1] == "native_allocation_leaf"]
    direct = [path for path in leaves if "direct" in path]
    assert len(direct) == 1, leaves
    path = direct[0]
    assert path[-3:] == ["allocate", "native_allocation_middle", "native_allocation_leaf"], path
    assert ordered_in(["_start", "Py_RunMain", "<module>", "direct", "cfunction_vectorcall_O",
                       "allocate"], path), path
    assert "_PyEval_EvalFrameDefault" not in path, path


def test_flame_graph_merges_python_called_from_c(report_capture):
    _, _, capture = report_capture
    chained = [path for path in flame_paths(capture)
               if "inner_python" in path and path[-1] == "native_allocation_leaf"]
    assert len(chained) == 1, flame_paths(capture)
    assert ordered_in(["<module>", "chain", "call_back", "native_call_python", "inner_python",
                       "allocate", "native_allocation_middle", "native_allocation_leaf"],
                      chained[0]), chained[0]


INTERPRETER_CALLS = {"PyObject_Vectorcall", "_PyObject_VectorcallTstate", "cfunction_vectorcall_O",
                     "_PyObject_MakeTpCall", "cfunction_call", "PyObject_CallNoArgs",
                     "_PyEval_Vector", "_PyEval_EvalFrame"}


def test_trimmed_paths_start_at_the_program_and_keep_extension_frames(report_capture):
    _, _, capture = report_capture
    leaves = [path for path in flame_paths(capture, "trimmed")
              if path and path[-1] == "native_allocation_leaf"]
    direct = [path for path in leaves if "direct" in path]
    assert direct == [["<module>", "direct", "allocate", "native_allocation_middle",
                       "native_allocation_leaf"]], leaves
    chained = [path for path in leaves if "inner_python" in path]
    assert chained == [["<module>", "chain", "call_back", "native_call_python", "inner_python",
                        "allocate", "native_allocation_middle", "native_allocation_leaf"]], leaves
    for path in flame_paths(capture, "trimmed"):
        if "<module>" in path:  # stacks with a Python frame start at one
            assert not {"_start", "Py_BytesMain", "Py_RunMain"} & set(path), path
            # Interpreter code that allocates inside the innermost Python frame
            # stays (on free-threaded builds, where the object domains are
            # always recorded, exec's PyEval_EvalCode creating the function
            # object of the module it runs); never between Python frames.
            if "PyEval_EvalCode" in path:
                assert "<module>" not in path[path.index("PyEval_EvalCode"):], path
        if "allocate" in path:  # no interpreter call machinery around the extension
            assert not INTERPRETER_CALLS & set(path), path


def test_tree_native_frames_option(report_capture):
    directory, _, capture = report_capture
    trimmed = check(memlyze("tree", "--plain", "--leaks",
                            capture, cwd=directory)).stdout
    full = check(memlyze("tree", "--plain", "--leaks", "--native-frames", "all", capture,
                         cwd=directory)).stdout
    assert "_start" in full and "Py_RunMain" in full
    assert "_start" not in trimmed and "Py_RunMain" not in trimmed and "<module>" in trimmed
    # the first Python frame is the first level below the root, not 14 levels down
    first = [line for line in trimmed.splitlines() if "<module>" in line][0]
    assert len(first) - len(first.lstrip()) == 2, trimmed
    bad = memlyze("tree", "--plain", "--native-frames", "some", capture, cwd=directory)
    assert bad.returncode == 2 and "--native-frames" in bad.stderr
    assert bad.stderr.count("\n") == 1


def test_collapsed_export_has_the_merged_stack(report_capture, tmp_path):
    directory, script, capture = report_capture
    out = tmp_path / "out.collapsed"
    check(memlyze("export", "--format", "collapsed", "--native-frames", "all", "-o", out, capture,
                  cwd=directory))
    lines = [line for line in out.read_text().splitlines() if line.endswith(" 3000001")]
    assert len(lines) == 1, out.read_text()
    frames = lines[0].rsplit(" ", 1)[0].split(";")
    functions = [frame.split(" (")[0] for frame in frames]
    assert functions[-3:] == ["allocate", "native_allocation_middle", "native_allocation_leaf"], frames
    assert ordered_in(["Py_RunMain", "<module>", "direct", "allocate"], functions), frames
    assert f"direct ({script}:{line_of(script, 'DIRECT')})" in frames, frames
    assert frames[-1].startswith("native_allocation_leaf (") and "native_allocations.c:" in frames[-1]


def test_python_only_capture_tree_is_unchanged(tmp_path):
    from memlyze.reports.flame_data import build_flame_data

    script = write_script(tmp_path, "plain.py", "def grow():\n    return bytearray(2_000_003)\n\n\nkept = grow()\n")
    capture = tmp_path / "plain.mlyze"
    check(memlyze("run", "-o", capture, script, cwd=tmp_path))
    data = build_flame_data(capture, progress=None)
    functions = {data["strings"][index] for index in data["nodes"]["function"]}
    assert "grow" in functions and "_PyEval_EvalFrameDefault" not in functions, functions
