"""memlyze.cpymemtrace.ReferenceTracing: exact counts for Python classes,
classes made while tracing, restoration, the builtins error below 3.13 and,
from 3.13 (PyRefTracer), builtin types with the name lists honoured."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

from memlyze import cpymemtrace


class Tracked:
    def __init__(self, value):
        self.value = value


class Untracked:
    pass


def log_lines(path, label):
    return [line.split("\t") for line in Path(path).read_text().splitlines()
            if line.startswith(label + ":")]


def test_one_class_counts_exactly_what_was_created_and_destroyed(tmp_path):
    kept_before = [Tracked(-1) for _ in range(5)]  # made before: not counted
    with cpymemtrace.ReferenceTracing(include_tp_names=["Tracked"], filepath=tmp_path) as tracing:
        objects = [Tracked(index) for index in range(1000)]  # CREATE
        others = [Untracked() for _ in range(50)]
        del objects[:400]
        assert tracing.live_object_counts() == {f"{__name__}.Tracked": 600}
    assert tracing.live_object_counts() == {f"{__name__}.Tracked": 600}
    new_lines = log_lines(tracing.log_file_path, "NEW")
    deleted_lines = log_lines(tracing.log_file_path, "DEL")
    assert len(new_lines) == 1000 and len(deleted_lines) == 400
    assert {line[3] for line in new_lines + deleted_lines} == {"Tracked"}
    assert [int(line[2]) for line in new_lines] == list(range(1, 1001))
    assert [int(line[2]) for line in deleted_lines] == list(range(999, 599, -1))
    addresses = {int(line[1], 16) for line in new_lines}
    assert {id(item) for item in objects} <= addresses
    first = new_lines[0]
    innermost = "<listcomp>" if sys.version_info < (3, 12) else \
        "test_one_class_counts_exactly_what_was_created_and_destroyed"
    assert Path(first[4]) == Path(__file__) and first[6].endswith(innermost)
    assert int(first[7]) > 0  # RSS
    assert log_lines(tracing.log_file_path, "LIVE") == [["LIVE:", f"{__name__}.Tracked", "+600"]]
    # Slots restored: nothing more is logged or counted.
    size = Path(tracing.log_file_path).stat().st_size
    del objects, others, kept_before
    Tracked(1)
    assert Path(tracing.log_file_path).stat().st_size == size


def test_all_non_builtin_types_including_classes_made_while_tracing(tmp_path):
    with cpymemtrace.ReferenceTracing(exclude_tp_names=["Untracked"], filepath=tmp_path) as tracing:
        class MadeLater(Tracked):
            pass

        later = [MadeLater(index) for index in range(7)]
        skipped = [Untracked() for _ in range(3)]
        cycle = Tracked(0)
        cycle.value = cycle
        del cycle, later[0]
    counts = tracing.live_object_counts()
    assert counts[f"{__name__}.test_all_non_builtin_types_including_classes_made_while_tracing"
                  ".<locals>.MadeLater"] == 6
    assert counts[f"{__name__}.Tracked"] == 0  # the cycle, freed by gc_collect_on_exit=2
    assert not any("Untracked" in name for name in counts)
    assert len(skipped) == 3
    assert len(log_lines(tracing.log_file_path, "NEW")) == 8


def test_gc_collect_on_exit_minus_one_leaves_cycles(tmp_path):
    gc.collect()
    with cpymemtrace.ReferenceTracing(include_tp_names=["Tracked"], gc_collect_on_exit=-1,
                                      filepath=tmp_path) as tracing:
        gc.disable()
        try:
            cycle = Tracked(0)
            cycle.value = cycle
            del cycle
        finally:
            gc.enable()
    assert tracing.live_object_counts() == {f"{__name__}.Tracked": 1}
    gc.collect()


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="3.13 traces builtins (PyRefTracer)")
def test_include_builtins_below_313_is_a_clear_error():
    with pytest.raises(NotImplementedError, match="free lists"):
        cpymemtrace.ReferenceTracing(include_builtins=True)


def test_bad_parameters(tmp_path):
    with pytest.raises(TypeError, match="not a str"):
        cpymemtrace.ReferenceTracing(include_tp_names="Tracked")
    with pytest.raises(ValueError, match="gc_collect_on_exit"):
        cpymemtrace.ReferenceTracing(gc_collect_on_exit=3)
    with pytest.raises(FileNotFoundError):
        with cpymemtrace.ReferenceTracing(filepath=tmp_path / "missing" / "x.log"):
            pass
    with cpymemtrace.ReferenceTracing(filepath=tmp_path):
        with pytest.raises(RuntimeError, match="do not nest"):
            with cpymemtrace.ReferenceTracing(filepath=tmp_path):
                pass


def test_type_names_must_be_strings():
    with pytest.raises(TypeError, match="must hold str type names, not int"):
        cpymemtrace.ReferenceTracing(exclude_tp_names=["Tracked", 3])


@pytest.mark.skipif(sys.version_info < (3, 13), reason="builtins are traced from 3.13 (PyRefTracer)")
def test_builtin_types_are_counted_by_name_from_313_and_objects_still_work_after(tmp_path):
    with cpymemtrace.ReferenceTracing(include_builtins=True, include_tp_names=["bytearray"],
                                      filepath=tmp_path) as tracing:
        kept = [bytearray(8) for _ in range(300)]
        del kept[:100]
        others = [Tracked(index) for index in range(20)]  # not in the include list
    assert tracing.live_object_counts() == {"builtins.bytearray": 200}
    assert {line[3] for line in log_lines(tracing.log_file_path, "NEW")} == {"bytearray"}
    # Every type the tracer saw keeps its own slots: creating objects works.
    assert len([Tracked(1), Untracked(), bytearray(3), [1], {"a": 1}]) == 5
    del kept, others

