"""memlyze.cpymemtrace Profile and Trace, and the decorators: log contents,
d_rss_trigger semantics, nesting and bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import check, line_of, python, write_script
from memlyze import cpymemtrace, cpymemtrace_decs

MIB = 1024 * 1024

WORKLOAD = """
import sys
from memlyze import cpymemtrace

MIB = 1 << 20
KEPT = []


def touch():
    data = b"x".ljust(100 * MIB, b"y")  # TOUCH
    return len(data)


def steps():
    for _ in range(24):
        KEPT.append(b"s".ljust(MIB, b"t"))  # STEP


def main():
    touch()
    steps()
    KEPT.clear()


kind = getattr(cpymemtrace, sys.argv[1])
with kind(d_rss_trigger=int(sys.argv[2]), filepath=sys.argv[3], message="workload") as tracer:
    main()
print(tracer.log_file_path)
"""


def parse_log(path):
    """(head fields, [event lines as dicts], tail fields) of a Profile/Trace log."""
    lines = Path(path).read_text().splitlines()
    head = lines[0].split("\t")
    assert head[:4] == ["HEAD:", "memlyze-cpymemtrace", "1", head[3]]
    assert lines[1].split("\t")[0] == "COLS:"
    tail = dict(field.split("=", 1) for field in lines[-1].split("\t")[1:])
    assert lines[-1].startswith("TAIL:")
    events = []
    for line in lines[2:-1]:
        label, number, delta_events, clock, what, file, line_number, function, rss, delta_rss = \
            line.split("\t")
        events.append(dict(label=label[:-1], number=int(number), delta_events=int(delta_events),
                           clock=float(clock), what=what, file=file, line=int(line_number),
                           function=function, rss=int(rss), delta_rss=int(delta_rss)))
    return head, events, tail


def run_workload(tmp_path, kind, trigger):
    script = write_script(tmp_path, "workload.py", WORKLOAD)
    logs = tmp_path / f"logs_{kind}_{trigger}"
    logs.mkdir()
    result = check(python(script, kind, trigger, logs, cwd=tmp_path))
    log = Path(result.stdout.strip())
    assert log.parent.resolve() == logs.resolve()
    return script, parse_log(log)


def test_profile_shows_the_jump_at_the_right_function_and_line(tmp_path):
    script, (head, events, tail) = run_workload(tmp_path, "Profile", -1)
    assert head[3] == "Profile" and "message=workload" in head
    jumps = [event for event in events if event["delta_rss"] >= 95 * MIB]
    assert len(jumps) == 1, events
    jump = jumps[0]
    assert (jump["label"], jump["what"], jump["function"]) == ("NEXT", "C_RETURN", "ljust")
    assert jump["line"] == line_of(script, "TOUCH") and Path(jump["file"]) == script
    # The event before the jump is logged too: the C_CALL of ljust, same line.
    previous = events[events.index(jump) - 1]
    assert previous["label"] == "PREV" and previous["number"] == jump["number"] - 1
    assert (previous["what"], previous["line"]) == ("C_CALL", jump["line"])
    assert int(tail["events"]) > len(events)


def test_trace_names_the_line_before_the_jump(tmp_path):
    script, (head, events, tail) = run_workload(tmp_path, "Trace", -1)
    assert head[3] == "Trace"
    jump = next(event for event in events if event["delta_rss"] >= 95 * MIB)
    previous = events[events.index(jump) - 1]
    # The LINE event of the touching line is the last one before the RSS moved.
    assert previous["label"] == "PREV" and previous["what"] == "LINE"
    assert previous["line"] == line_of(script, "TOUCH") and previous["function"] == "touch"
    assert not any(event["what"].startswith("C_") for event in events)


def check_trigger(events, trigger):
    """Every NEXT line after the first moved the RSS by >= trigger since the
    last logged line before it (not counting its own PREV line), every PREV
    line is the event just before a NEXT one; dRSS and dEvent are relative
    to the line above."""
    assert events[0]["label"] == "NEXT" and events[0]["number"] == 0
    for index, event in enumerate(events[1:], start=1):
        if event["label"] == "NEXT":
            reference = events[index - 2 if events[index - 1]["label"] == "PREV" else index - 1]
            assert abs(event["rss"] - reference["rss"]) >= trigger, event
        if event["label"] == "PREV":
            following = events[index + 1]
            assert following["label"] == "NEXT" and following["number"] == event["number"] + 1
            assert abs(event["delta_rss"]) < max(trigger, 1) or trigger == 0
        assert event["delta_events"] == event["number"] - events[index - 1]["number"]
        assert event["delta_rss"] == event["rss"] - events[index - 1]["rss"]


def test_d_rss_trigger_every_event_one_page_and_n_bytes(tmp_path):
    _, (_, every, every_tail) = run_workload(tmp_path, "Profile", 0)
    assert [event["label"] for event in every] == ["NEXT"] * len(every)
    assert [event["number"] for event in every] == list(range(len(every)))
    assert len(every) == int(every_tail["events"]) == int(every_tail["logged"])

    _, (head, page, _) = run_workload(tmp_path, "Profile", -1)
    assert "d_rss_trigger=4096" in head
    check_trigger(page, 4096)

    script, (head, coarse, _) = run_workload(tmp_path, "Profile", 8 * MIB)
    assert f"d_rss_trigger={8 * MIB}" in head
    check_trigger(coarse, 8 * MIB)
    # 24 one-MiB steps kept: logged about every 8 MiB, never each MiB.
    step_line = line_of(script, "STEP")
    step_jumps = [event for event in coarse if event["label"] == "NEXT"
                  and event["function"] == "ljust" and event["line"] == step_line]
    assert 2 <= len(step_jumps) <= 3, coarse
    for jump in step_jumps:  # each is one 1 MiB step, after a PREV 7-8 MiB on
        previous = coarse[coarse.index(jump) - 1]
        assert previous["label"] == "PREV" and MIB <= jump["delta_rss"] < 2 * MIB
        assert 8 * MIB <= jump["delta_rss"] + previous["delta_rss"] < 10 * MIB
    assert any(event["label"] == "PREV" for event in coarse)
    assert len(coarse) < len(page) < len(every)


def test_nested_contexts_each_write_their_own_file(tmp_path):
    with cpymemtrace.Trace(0, filepath=tmp_path) as outer:
        with cpymemtrace.Profile(0, filepath=tmp_path) as inner:
            sum(range(10))
        len("after the inner context")
    outer_path, inner_path = Path(outer.log_file_path), Path(inner.log_file_path)
    assert outer_path != inner_path
    assert outer_path.name.endswith("_T_0.log") and inner_path.name.endswith("_P_1.log")
    _, inner_events, _ = parse_log(inner_path)
    assert any(event["what"] == "C_CALL" and event["function"] == "sum" for event in inner_events)
    _, outer_events, _ = parse_log(outer_path)
    # The outer trace resumed after the inner one exited.
    assert any(event["what"] == "LINE" and event["number"] > 0 for event in outer_events)


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="d_rss_trigger must be -1"):
        cpymemtrace.Profile(d_rss_trigger=-2)
    with pytest.raises(ValueError, match="d_rss_trigger must be -1"):
        cpymemtrace_decs.trace(d_rss_trigger=-5)
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    with pytest.raises(NotADirectoryError, match=str(not_a_directory)):
        with cpymemtrace.Profile(filepath=not_a_directory / "profile.log"):
            pass
    with pytest.raises(FileNotFoundError, match="missing"):
        with cpymemtrace.Trace(filepath=tmp_path / "missing" / "trace.log"):
            pass
    with pytest.raises(PermissionError, match="/sys/"):  # unwritable, even for root
        with cpymemtrace.Profile(filepath="/sys"):
            pass
    assert sys.getprofile() is None
    with pytest.raises(TypeError, match="needs a callable"):
        cpymemtrace_decs.profile(filepath=tmp_path)(42)
    with pytest.raises(TypeError, match="parentheses"):
        cpymemtrace_decs.profile(lambda: None)


def test_decorators_work_on_functions_that_raise(tmp_path):
    @cpymemtrace_decs.profile(d_rss_trigger=0, filepath=tmp_path, message="fails")
    def failing(value):
        raise KeyError(value)

    @cpymemtrace_decs.trace(filepath=tmp_path)
    def succeeding(value):
        return value * 2

    @cpymemtrace_decs.reference_tracing(filepath=tmp_path, include_tp_names=["Thing"])
    def failing_too():
        raise RuntimeError("inside")

    with pytest.raises(KeyError, match="boom"):
        failing("boom")
    assert succeeding(21) == 42
    with pytest.raises(RuntimeError, match="inside"):
        failing_too()
    assert failing.__name__ == "failing"
    logs = sorted(tmp_path.glob("*.log"))
    assert len(logs) == 3
    for log in logs:
        text = log.read_text()
        assert text.startswith("HEAD:\tmemlyze-cpymemtrace") and "\nTAIL:\t" in text
    assert sys.getprofile() is None and sys.gettrace() is None


def test_filepath_naming_a_file_is_that_log_file(tmp_path):
    log = tmp_path / "chosen.log"
    log.write_text("old contents\n")
    with cpymemtrace.Profile(0, filepath=log) as profile:
        len("x")
    assert Path(profile.log_file_path) == log
    head, events, _ = parse_log(log)
    assert head[3] == "Profile" and any(event["function"] == "len" for event in events)
    assert "old contents" not in log.read_text()
