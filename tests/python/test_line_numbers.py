"""Line numbers of large code objects come from a map built once per code
object (src/binding/interpreter/line_numbers.c), not from CPython's lookup: they must
be exactly CPython's, instruction by instruction, and land in captures."""

from __future__ import annotations

import sys
import types

from conftest import check, memlyze, write_script

from memlyze import _memlyze

LARGE = 1024  # code units from which the map is used (LARGE_CODE_UNITS)


def code_objects(code):
    yield code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from code_objects(constant)


def cpython_lines(code):
    return [-1 if position[0] is None else position[0] for position in code.co_positions()]


def our_lines(code):
    return [_memlyze._instruction_line(code, index) for index in range(len(code.co_code) // 2)]


def giant_function_source(lines):
    body = "".join(f"    block{index} = bytearray({100_000 + index})\n"
                   f"    if block{index}:\n        del block{index}\n" for index in range(lines))
    return "def giant():\n" + body


def test_every_code_unit_of_large_code_matches_cpython():
    sources = [giant_function_source(1500)]
    for name in ("argparse", "typing", "tarfile", "pydoc_data.topics", "_pydecimal"):
        __import__(name)
        with open(sys.modules[name].__file__, encoding="utf-8") as file:
            sources.append(file.read())
    large = 0
    for source in sources:
        for code in code_objects(compile(source, "<checked>", "exec")):
            large += len(code.co_code) // 2 >= LARGE
            assert our_lines(code) == cpython_lines(code), code.co_name
    assert large >= 5  # the map, not only the direct lookup, was checked


def test_a_code_object_with_the_same_table_elsewhere_gets_its_own_lines():
    namespace = {}
    exec(compile(giant_function_source(600), "<giant>", "exec"), namespace)
    code = namespace["giant"].__code__
    assert len(code.co_code) // 2 >= LARGE
    moved = code.replace(co_firstlineno=code.co_firstlineno + 1000)
    assert our_lines(code) == cpython_lines(code)
    assert our_lines(moved) == cpython_lines(moved)
    assert our_lines(moved)[5] == our_lines(code)[5] + 1000


def test_capture_attributes_allocations_of_a_giant_function_to_their_lines(tmp_path):
    count = 800
    script = write_script(tmp_path, "giant.py", giant_function_source(count) + """
for _ in range(3):
    giant()
""")
    check(memlyze("run", "-o", "giant.mlyze", script, cwd=tmp_path))
    from memlyze import _memlyze as engine

    capture = engine.CaptureFile(str(tmp_path / "giant.mlyze"))
    lines_by_size = {}
    for record in capture.records():
        if record[0] == "alloc" and 100_000 <= record[3] < 100_000 + count + 64:
            frames = capture.stack(record[5])
            lines_by_size.setdefault(record[3], set()).add(frames[0][2] if frames else None)
    # bytearray(n) asks for n + 1 bytes: block i's allocation is at line 2 + 3 i.
    expected = {100_000 + index + 1: {2 + 3 * index} for index in range(count)}
    assert lines_by_size == expected
