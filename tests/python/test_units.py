"""Pure-Python pieces of the front end, tested directly."""

import os
import sys

import pytest

from memlyze import formatting as fmt
from memlyze._bootstrap import record_environment
from memlyze.cli import record, record_options


def test_human_bytes():
    assert fmt.human_bytes(0) == "0 B"
    assert fmt.human_bytes(1023) == "1023 B"
    assert fmt.human_bytes(1024) == "1.0 KiB"
    assert fmt.human_bytes(1536) == "1.5 KiB"
    assert fmt.human_bytes(200 * 1_000_001) == "190.7 MiB"
    assert fmt.human_bytes(1024**3 - 1) == "1.0 GiB"
    assert fmt.human_bytes(None) == "-"
    assert fmt.human_bytes(-2048) == "-2.0 KiB"


def test_other_formats():
    assert fmt.human_count(1234567) == "1,234,567"
    assert fmt.human_duration(0.0000005) == "0 µs"
    assert fmt.human_duration(0.0123) == "12.3 ms"
    assert fmt.human_duration(4.561) == "4.56 s"
    assert fmt.human_duration(125) == "2 min 5 s"
    assert fmt.percent(1, 4) == "25.0%" and fmt.percent(1, 0) == "-"
    assert fmt.bar(1.0, 4) == "████" and fmt.bar(0, 4) == "" and fmt.bar(0.5, 4) == "██"
    assert fmt.location({"function": "f", "file": "a.py", "line": 3}) == "f a.py:3"
    assert fmt.location(("f", "a.py", 3)) == "f a.py:3"
    assert fmt.shorten_path("/very/long/path/to/module.py", 12) == "…o/module.py"
    table = fmt.table(("a", "bb"), [("1", "x"), ("22", "yyy")], align="rl").splitlines()
    assert table == [" a  bb", "--  ---", " 1  x", "22  yyy"]


@pytest.mark.parametrize("argv, options, target", [
    (["python", "app.py"], [], ["python", "app.py"]),
    (["-o", "x.mlyze", "-f", "python", "-m", "pytest", "-x"],
     ["-o", "x.mlyze", "-f"], ["python", "-m", "pytest", "-x"]),
    (["--output=x", "--max-stack-depth", "5", "--", "-weird"],
     ["--output=x", "--max-stack-depth", "5"], ["-weird"]),
    (["-fo", "x.mlyze", "cmd"], ["-fo", "x.mlyze"], ["cmd"]),
    (["--max-stack", "3", "cmd", "--max-stack-depth", "9"], ["--max-stack", "3"],
     ["cmd", "--max-stack-depth", "9"]),
])
def test_split_options_for_record(argv, options, target):
    assert record_options.split_options(record_options.build_parser(), argv) == (options, target)


def test_split_options_for_run():
    from memlyze.cli import run

    parser = run.build_parser()
    assert record_options.split_options(parser, ["-f", "-m", "http.server", "-o", "x"], ("-m", "-c")) == (
        ["-f"], ["-m", "http.server", "-o", "x"])
    assert record_options.split_options(parser, ["-chello"], ("-m", "-c")) == ([], ["-chello"])
    assert record_options.split_options(parser, ["--python-allocators", "s.py", "-f"], ("-m", "-c")) == (
        ["--python-allocators"], ["s.py", "-f"])


@pytest.mark.parametrize("command, name", [
    (["python", "app.py"], "app.py"),
    (["python3.11", "-u", "-X", "dev", "dir/app.py", "-m", "x"], "app.py"),
    (["python", "-m", "http.server"], "http.server"),
    (["python", "-mhttp.server"], "http.server"),
    (["python", "-c", "pass"], "python-c"),
    (["python", "-Bc", "pass"], "python-c"),
    (["/usr/bin/gunicorn", "app:app"], "gunicorn"),
    (["pytest", "-x"], "pytest"),
    (["python"], "python"),
])
def test_script_name(command, name):
    assert record.script_name(command) == name


def test_make_environment_keeps_the_original_pythonpath(tmp_path):
    env = record_environment.make_environment({"PYTHONPATH": "/a:/b", "X": "1"},
                                              str(tmp_path / "c.mlyze"), "python app.py",
                                              max_stack_depth=7)
    assert env["X"] == "1"
    assert env["PYTHONPATH"] == record_environment.BOOTSTRAP_DIR + os.pathsep + "/a:/b"
    config = record_environment.read_config(env[record_environment.ENV_VAR])
    assert config["pythonpath"] == "/a:/b"
    assert config["max_stack_depth"] == 7 and config["track_gc"] is True
    assert config["path"] == str(tmp_path / "c.mlyze")
    assert config["command"] == "python app.py"
    assert config["version"] == record_environment.CONFIG_VERSION
    assert config["sample_interval"] is None and config["include_patterns"] == []
    bare = record_environment.make_environment({}, "c.mlyze", "x")
    assert bare["PYTHONPATH"] == record_environment.BOOTSTRAP_DIR
    assert record_environment.read_config(bare[record_environment.ENV_VAR])["pythonpath"] is None
    with pytest.raises(TypeError):
        record_environment.make_environment({}, "c.mlyze", "x", colour=True)


def test_record_config_round_trip():
    config = {
        "version": 2, "none": None, "yes": True, "no": False, "zero": 0, "negative": -12,
        "big": 2**80, "fraction": 0.1, "whole": 60.0, "tiny": 5e-324, "infinite": float("inf"),
        "empty": "", "plain": "/tmp/app.mlyze", "command": "python -c 'print(1); x=2' a,b 100%",
        "unicode": "caf\u00e9 \u65e5\u672c \U0001f600", "controls": "tab\tnew\nline\x00nul\x7f",
        "undecodable": "/tmp/\udcff\udc80.mlyze", "escape_like": "%000041 %% %zz",
        "no_items": [], "one_empty_item": [""], "items": ["myapp.*", "a,b", "x;y=z", "%"],
        "tuple": ("a", "b"),
    }
    text = record_environment.write_config(config)
    assert text.isascii() and text.isprintable()
    expected = dict(config, tuple=["a", "b"])
    decoded = record_environment.read_config(text)
    assert decoded == expected
    assert [type(value) for value in decoded.values()] == [type(value) for value in expected.values()]
    nan = record_environment.read_config(record_environment.write_config({"x": float("nan")}))["x"]
    assert nan != nan
    with pytest.raises(TypeError):
        record_environment.write_config({"x": {"a": 1}})
    with pytest.raises(TypeError):
        record_environment.write_config({"x": [1, 2]})


@pytest.mark.parametrize("text", [
    "", "version", "version=", "version=I", "version=Ix", "version=Q1", "version=N1",
    "version=T;", "=I1", "1x=I1", "path=S%", "path=S%12", "path=S%zzzzzz", "path=S%ffffff",
    "items=Lx", '{"version": 1, "path": "/tmp/x.mlyze"}', "version=I2;path=S/x;;",
])
def test_record_config_rejects_garbage(text):
    with pytest.raises(ValueError):
        record_environment.read_config(text)


def test_tracker_option_checks():
    import memlyze

    with pytest.raises(ValueError):
        memlyze.Tracker("x.mlyze", rss_interval=-1)
    with pytest.raises(TypeError):
        memlyze.Tracker("x.mlyze", max_stack_depth="7")
    with pytest.raises(TypeError):
        memlyze.Tracker("x.mlyze", colour=True)
    tracker = memlyze.Tracker("x.mlyze")
    assert not tracker.is_running
    tracker.stop()  # stopping a tracker that never started does nothing
    with pytest.raises(RuntimeError):
        tracker.snapshot()
    assert "not started" in repr(tracker)
    assert sys.modules["memlyze"].Tracker is memlyze.tracker.Tracker


def test_every_source_module_is_installed():
    """src/memlyze/meson.build lists the modules: none may be missing."""
    from pathlib import Path

    import memlyze
    from conftest import REPO

    source = REPO / "src" / "memlyze"
    installed = Path(memlyze.__file__).parent
    expected = {path.relative_to(source) for path in source.rglob("*.py")}
    present = {path.relative_to(installed) for path in installed.rglob("*.py")}
    assert expected <= present, sorted(map(str, expected - present))


def test_parse_byte_size():
    from memlyze.byte_sizes import parse_byte_size

    assert parse_byte_size("512KiB") == 512 * 1024
    assert parse_byte_size("1MiB") == 1024 * 1024
    assert parse_byte_size("2 MB") == 2_000_000
    assert parse_byte_size("1.5KiB") == 1536
    assert parse_byte_size(4096) == 4096
    for bad in ("-1", "0", "abc", "12 parsecs", "1.3", ".5K", "1.", True):
        with pytest.raises(ValueError):
            parse_byte_size(bad)
