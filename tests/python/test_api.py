"""The in-process API: memlyze.Tracker, memlyze.start and memlyze.FileReader."""

import sys
from pathlib import Path

import pytest

import memlyze
from conftest import (BYTEARRAY_ALLOCATIONS, HOLD_BYTES, LEAK_BYTES, assert_close,
                      bytearray_bytes, check, line_of, python, stats_json, write_script)


def test_file_reader(ground_truth):
    _, script, capture, stats = ground_truth
    with memlyze.FileReader(capture) as reader:
        assert isinstance(reader.metadata, dict) and reader.metadata
        summary = reader.summary
        assert summary["peak_bytes"] == stats["peak_bytes"]
        assert summary["top_by_peak"] == stats["top_by_peak"]
        assert reader.truncated is False

        peak = list(reader.peak_allocations())
        assert [item.bytes for item in peak] == sorted((item.bytes for item in peak), reverse=True)
        first = peak[0]
        assert first.location == memlyze.Frame("hold", str(script), line_of(script, "HOLD"))
        assert (first.stack[0].function, first.stack[0].line) == ("hold", line_of(script, "HOLD"))
        assert [frame.function for frame in first.stack[:3]] == ["hold", "main", "<module>"]
        assert_close(first.bytes, HOLD_BYTES, 0.01)
        blocks = 200 * BYTEARRAY_ALLOCATIONS
        assert blocks <= first.count <= blocks + 2  # the blocks, and the list holding them

        leaks = list(reader.leaks())
        assert leaks[0].location.function == "leak"
        assert leaks[0].location.line == line_of(script, "LEAK")
        assert_close(leaks[0].bytes, LEAK_BYTES, 0.01)
        blocks = 100 * BYTEARRAY_ALLOCATIONS
        assert blocks <= leaks[0].count <= blocks + 2

        sized = [record for record in reader.records() if record.size == 1_000_001]
        assert len(sized) >= 300
        functions = {reader.stack(record.stack_id)[0].function
                     for record in sized if record.stack_id}
        assert {"hold", "leak"} <= functions
        assert isinstance(reader.threads(), list) and reader.threads()


def test_file_reader_errors(tmp_path):
    with pytest.raises(OSError):
        memlyze.FileReader(tmp_path / "missing.mlyze")
    bad = tmp_path / "bad.mlyze"
    bad.write_bytes(b"this is not a capture" * 20)
    with pytest.raises(memlyze.CaptureError):
        memlyze.FileReader(bad).summary


def test_tracker_api(tmp_path):
    script = write_script(tmp_path, "api.py", """
        import sys
        import memlyze


        def hold():
            blocks = []
            for _ in range(50):
                blocks.append(bytearray(1_000_000))  # HOLD
            return blocks


        first, second = sys.argv[1], sys.argv[2]
        with memlyze.Tracker(first) as tracker:
            print("running", tracker.is_running)
            blocks = hold()
            tracker.snapshot()
            for attempt in (lambda: memlyze.Tracker(second).start(),
                            lambda: memlyze.start(second)):
                try:
                    attempt()
                except RuntimeError as error:
                    print("refused:", type(error).__name__)
            del blocks
        print("running", tracker.is_running)

        tracer = memlyze.start(second, max_stack_depth=4, track_gc=False, rss_interval=0)
        kept = hold()
        tracer.stop()
        tracer.stop()  # a second stop does nothing

        try:
            memlyze.Tracker(first).start()
        except OSError as error:
            print("exists:", type(error).__name__)
        with memlyze.Tracker(first, force=True, python_allocators=True):
            small = [[n] for n in range(1000)]
        try:
            memlyze.Tracker(first, max_stack_depth=0)
        except ValueError:
            print("bad depth")
        try:
            memlyze.Tracker(first, sample_rate=1.5)
        except ValueError:
            print("bad rate")
    """)
    result = check(python(script, "first.mlyze", "second.mlyze", cwd=tmp_path))
    assert result.stdout.splitlines() == [
        "running True",
        "refused: TrackerError",
        "refused: TrackerError",
        "running False",
        "exists: FileExistsError",
        "bad depth",
        "bad rate",
    ]
    second = stats_json(tmp_path / "second.mlyze", tmp_path)
    top = second["top_by_peak"][0]
    assert (top["function"], Path(top["file"]).name, top["line"]) == (
        "hold", "api.py", line_of(script, "HOLD"))
    assert_close(top["bytes"], bytearray_bytes(1_000_000, 50), 0.01)
    assert second["gc"] is None
    first = stats_json(tmp_path / "first.mlyze", tmp_path)
    assert first["allocators"]["pymalloc"]["count"] >= 1000


def test_package_exports():
    assert isinstance(memlyze.__version__, str)
    for name in ("Tracker", "start", "FileReader"):
        assert hasattr(memlyze, name)
    assert Path(memlyze.__file__).parent.joinpath("_bootstrap", "sitecustomize.py").is_file()
    assert sys.modules["memlyze"] is memlyze
