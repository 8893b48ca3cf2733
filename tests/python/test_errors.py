"""Bad input: one line on stderr, `memlyze: error: ...`, non-zero exit, no traceback."""

import os
import sys

import pytest

from memlyze._bootstrap import record_environment

from conftest import assert_one_line_error, check, clean_env, memlyze, python, write_script

HELLO = "print('hello')\n"


@pytest.mark.parametrize("args", [
    ["run", "does-not-exist.py"],
    ["run", "-m", "no_such_module_for_memlyze"],
    ["run"],
    ["run", "-o", "x.mlyze"],
    ["record"],
    ["record", "-o", "x.mlyze", "no-such-command-for-memlyze"],
    ["record", "-o", "x.mlyze", "./hello.py"],  # not executable
    ["run", "--max-stack-depth", "0", "hello.py"],
    ["run", "--max-stack-depth", "-3", "hello.py"],
    ["run", "--max-stack-depth", "many", "hello.py"],
    ["run", "--max-stack-depth", "5000", "hello.py"],
    ["run", "--rss-interval", "4000", "hello.py"],
    ["run", "--rss-interval", "-1", "hello.py"],
    ["run", "--rss-interval", "nan", "hello.py"],
    ["run", "--rss-interval", "soon", "hello.py"],
    ["record", "--max-stack-depth", "0", "python3", "hello.py"],
    ["run", "--no-such-option", "hello.py"],
    ["run", "-o", "missing-directory/x.mlyze", "hello.py"],
    ["run", "-o", "hello.py/x.mlyze", "hello.py"],  # the "directory" is a file
    ["run", "-o", ".", "hello.py"],
    ["stats"],
    ["stats", "does-not-exist.mlyze"],
    ["stats", "."],
    ["stats", "hello.py"],
    ["stats", "--top", "0", "hello.py"],
    ["summary", "does-not-exist.mlyze"],
    ["summary", "hello.py"],
    ["summary", "-n", "x", "hello.py"],
    ["no-such-command"],
    ["--no-such-option"],
])
def test_bad_input(tmp_path, args):
    write_script(tmp_path, "hello.py", HELLO)
    result = memlyze(*args, cwd=tmp_path)
    assert_one_line_error(result)
    assert "hello" not in result.stdout  # the program did not run
    assert not list(tmp_path.glob("*.mlyze"))


def test_unwritable_output_directory(tmp_path):
    write_script(tmp_path, "hello.py", HELLO)
    if os.geteuid() == 0:
        target = "/sys/memlyze-test.mlyze"  # not creatable, even by root
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        target = str(locked / "x.mlyze")
    result = memlyze("run", "-o", target, "hello.py", cwd=tmp_path)
    assert_one_line_error(result)
    assert result.stdout == ""


def test_unreadable_capture(tmp_path):
    if os.geteuid() == 0:
        target = "/proc/self/mem"  # exists, cannot be read from offset 0
    else:
        path = tmp_path / "secret.mlyze"
        path.write_bytes(b"MLYZ")
        path.chmod(0)
        target = str(path)
    assert_one_line_error(memlyze("stats", target, cwd=tmp_path))


def test_existing_output_needs_force(tmp_path):
    write_script(tmp_path, "hello.py", HELLO)
    existing = tmp_path / "out.mlyze"
    existing.write_bytes(b"precious")
    result = memlyze("run", "-o", "out.mlyze", "hello.py", cwd=tmp_path)
    assert_one_line_error(result)
    assert "-f" in result.stderr
    assert result.stdout == ""
    assert existing.read_bytes() == b"precious"
    result = memlyze("record", "-o", "out.mlyze", sys.executable, "hello.py", cwd=tmp_path)
    assert_one_line_error(result)
    assert existing.read_bytes() == b"precious"
    forced = check(memlyze("run", "-f", "-o", "out.mlyze", "hello.py", cwd=tmp_path))
    assert forced.stdout == "hello\n"
    check(memlyze("stats", "out.mlyze", cwd=tmp_path))
    forced = check(memlyze("record", "--force", "-o", "out.mlyze", sys.executable, "hello.py",
                           cwd=tmp_path))
    assert forced.stdout == "hello\n"
    check(memlyze("stats", "out.mlyze", cwd=tmp_path))


@pytest.mark.parametrize("value", [
    "",
    "not a configuration",
    '{"version": 1, "path": "x.mlyze"}',  # the JSON of earlier versions
    "version=I2;path=S%zz",
    "version=I1;path=Sx.mlyze",
])
def test_bad_record_environment_variable(tmp_path, value):
    """A MEMLYZE_RECORD that `memlyze record` did not write stops the program."""
    write_script(tmp_path, "hello.py", HELLO)
    env = clean_env(PYTHONPATH=record_environment.BOOTSTRAP_DIR, MEMLYZE_RECORD=value)
    result = python("hello.py", cwd=tmp_path, env=env)
    assert_one_line_error(result)
    assert result.returncode == 1
    assert "MEMLYZE_RECORD" in result.stderr
    assert result.stdout == ""
    assert not list(tmp_path.glob("*.mlyze"))


@pytest.mark.parametrize("content", [
    b"",
    b"MLYZ",
    b"not a capture at all, just some text\n" * 10,
    os.urandom(4096),
    b"MLYZ" + os.urandom(4096),
])
def test_corrupt_captures(tmp_path, content):
    (tmp_path / "bad.mlyze").write_bytes(content)
    for command in ("stats", "summary"):
        assert_one_line_error(memlyze(command, "bad.mlyze", cwd=tmp_path))
    assert_one_line_error(memlyze("stats", "--json", "bad.mlyze", cwd=tmp_path))
