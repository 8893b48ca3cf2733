"""`memlyze run` runs the program in its own process (cli/program_runner.py):
the program must see and do exactly what `python SCRIPT|-m|-c` gives it, its
stacks must start at its own first frame, and the options read without
argparse (cli/run_options.py) must read as argparse reads them."""

import os
import shlex
import signal
import sys
from pathlib import Path

import pytest

from conftest import check, memlyze, python, stats_json, write_script

PROBE = """
import sys
def annotated(value: int): pass
print(sys.argv, sys.path[0], __name__, __file__ if "__file__" in globals() else None)
print(sorted(globals()), type(__loader__).__name__ if not isinstance(__loader__, type) else __loader__.__name__)
print(__spec__ and (__spec__.name, __spec__.origin), __package__, sys.orig_argv[1:],
      annotated.__annotations__)
print(sys.modules["__main__"] is sys.modules[__name__], sys.excepthook is sys.__excepthook__)
"""

ENDINGS = {
    "normal": "print('done')",
    "exit-code": "import sys; sys.exit(3)",
    "exit-message": "import sys; sys.exit('stopped: bad input')",
    "exception": "def inner():\n    raise ValueError('boom')\ninner()",
    "syntax": "def broken(:\n    pass",
    "own-hook": ("import sys\ndef hook(kind, value, traceback):\n"
                 "    print('hook saw', kind.__name__, traceback.tb_frame.f_code.co_name)\n"
                 "sys.excepthook = hook\nraise KeyError('k')"),
    "interrupt": "raise KeyboardInterrupt",
}


def run_both(tmp_path, *target, cwd=None):
    """(python's result, memlyze run's result) for one target command line."""
    cwd = cwd or tmp_path
    plain = python(*target, cwd=cwd)
    capture = tmp_path / "probe.mlyze"
    profiled = memlyze("run", "-f", "-o", capture, *target, cwd=cwd)
    return plain, profiled


def assert_same(plain, profiled):
    assert profiled.stdout == plain.stdout
    assert profiled.stderr == plain.stderr
    assert profiled.returncode == plain.returncode


# What compiling a program may not differ in: its coding cookie, its own
# __future__ flags, and no ast module types built for it (builtins.compile()
# builds ~120 of them, which Python's runner never does).
COMPILE_PROBE = """# -*- coding: latin-1 -*-
from __future__ import annotations
import gc
def annotated(value: undefined_name) -> int: pass
print(len("\xe9"), annotated.__annotations__)
print(any(isinstance(o, type) and o.__name__ == "AST" for o in gc.get_objects()))
"""


def test_the_program_is_compiled_as_python_compiles_it(tmp_path):
    (tmp_path / "latin.py").write_bytes(COMPILE_PROBE.encode("latin-1"))
    plain, profiled = run_both(tmp_path, "latin.py")
    assert plain.stdout == "1 {'value': 'undefined_name', 'return': 'int'}\nFalse\n", plain.stderr
    assert_same(plain, profiled)
    code = "import gc; print('\u00e9', any(isinstance(o, type) and o.__name__ == 'AST' for o in gc.get_objects()))"
    plain, profiled = run_both(tmp_path, "-c", code)
    assert plain.stdout == "\u00e9 False\n", plain.stderr
    assert_same(plain, profiled)


def test_exec_starts_the_program_in_a_fresh_interpreter(tmp_path):
    code = "import sys; print('memlyze.cli.main' in sys.modules, 'memlyze.tracker' in sys.modules)"
    capture = tmp_path / "where.mlyze"
    here = check(memlyze("run", "-f", "-o", capture, "-c", code, cwd=tmp_path))
    assert here.stdout == "True True\n"
    fresh = check(memlyze("run", "--exec", "-f", "-o", capture, "-c", code, cwd=tmp_path))
    assert fresh.stdout == "False True\n"
    assert stats_json(capture, tmp_path)["total_allocations"] > 0


def test_a_script_sees_what_python_gives_it(tmp_path):
    write_script(tmp_path, "probe.py", PROBE)
    # through a symbolic link in another folder: sys.path[0] is the resolved one
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "probe.py").symlink_to(tmp_path / "probe.py")
    plain, profiled = run_both(tmp_path, "links/probe.py", "one", "--two")
    assert plain.returncode == 0, plain.stderr
    assert_same(plain, profiled)


@pytest.mark.parametrize("flag", ["-c", "-m"])
def test_code_and_modules_see_what_python_gives_them(tmp_path, flag):
    write_script(tmp_path, "probe_module.py", PROBE)
    target = [flag, PROBE] if flag == "-c" else [flag, "probe_module"]
    plain, profiled = run_both(tmp_path, *target, "argument")
    assert plain.returncode == 0, plain.stderr
    assert_same(plain, profiled)


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_the_program_ends_as_under_python(tmp_path, ending):
    write_script(tmp_path, "ending.py", ENDINGS[ending])
    plain, profiled = run_both(tmp_path, "ending.py")
    if ending == "interrupt":
        assert plain.returncode == -signal.SIGINT
    assert_same(plain, profiled)


def test_a_module_ending_in_an_exception_keeps_pythons_traceback(tmp_path):
    write_script(tmp_path, "failing.py", "def run():\n    raise RuntimeError('inside')\nrun()")
    plain, profiled = run_both(tmp_path, "-m", "failing")
    assert plain.returncode == 1 and "<frozen runpy>" in plain.stderr
    assert_same(plain, profiled)


WORKLOAD = """
def build():
    return [bytearray(100_000) for _ in range(20)]

kept = build()
"""


def test_the_programs_stacks_start_at_its_own_frame(tmp_path):
    script = write_script(tmp_path, "workload.py", WORKLOAD)
    capture = tmp_path / "workload.mlyze"
    check(memlyze("run", "--in-process", "-o", capture, script, cwd=tmp_path))
    tree = check(memlyze("tree", capture, cwd=tmp_path)).stdout
    assert "<module>  " + str(script) in tree or f"<module>  {script.name}" in tree, tree
    for foreign in ("memlyze/cli", "memlyze:", "runpy", "program_runner"):
        assert foreign not in tree, tree
    stats = stats_json(capture, tmp_path)
    built = [entry for entry in stats["top_by_count"] if entry["file"] == str(script)]
    assert sum(entry["bytes"] for entry in built) >= 20 * 100_000


def test_the_command_imports_no_parser_before_the_program(tmp_path):
    command = Path(sys.executable).with_name("memlyze")
    assert command.exists(), "the memlyze command is installed beside this Python"
    assert "import re" not in command.read_text()
    # __future__: `from __future__ import annotations` imports it (~0.2 ms), so
    # the modules the command runs before the program go without.
    probe = ("import sys; print(sorted(name for name in ('re', 'argparse', 'shlex', 'gettext', "
             "'enum', 'importlib.util', 'json', 'threading', 'typing', '__future__', 'struct', "
             "'memlyze.cli.record_options') if name in sys.modules))")
    capture = tmp_path / "light.mlyze"
    result = check(memlyze_command(command, "run", "--in-process", "--sample-interval", "512KiB", "-o", capture,
                                   "-c", probe, cwd=tmp_path))
    assert result.stdout.strip() == "[]"


def memlyze_command(command, *args, cwd):
    import subprocess

    return subprocess.run([str(command), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


# Command lines the quick reader takes, and ones it must leave to argparse.
TAKEN = [
    ["app.py"],
    ["-o", "out.mlyze", "-f", "app.py", "-x", "--native"],
    ["--output=out.mlyze", "--native", "--python-allocators", "--no-track-gc", "-m", "mod", "-o"],
    ["--sample-interval", "512KiB", "--rss-interval", "0.5", "--max-stack-depth", "30", "-c", "pass"],
    ["--sample-rate=0.25", "--follow-fork", "--include", "app.*", "--include=lib", "--exclude",
     "x", "--", "-script.py"],
    ["--aggregate", "--aggregate-interval", "5", "--in-process", "-mjson.tool"],
    ["--track-gc", "--follow-subprocesses", "app.py", "--sample-rate", "2"],
]
LEFT = [
    ["--help"], ["-h"], ["--nat", "app.py"], ["-fo", "x", "app.py"], ["-o=x", "app.py"],
    ["--sample-rate", "0.5", "--sample-interval", "1KiB", "app.py"], ["--sample-interval", "lots"],
    ["--ring", "10s", "app.py"], ["--live", "app.py"], ["-o"], ["-o", "--native", "app.py"],
    ["--pprof-dir", "d", "app.py"], ["-", "app.py"], ["--force=yes", "app.py"],
]


@pytest.mark.parametrize("argv", TAKEN, ids=shlex.join)
def test_the_quick_reader_reads_as_argparse(argv):
    from memlyze.cli.record_options import split_options
    from memlyze.cli.run import build_parser
    from memlyze.cli.run_options import parse_quickly

    parser = build_parser()
    option_argv, target = split_options(parser, argv, stop_at=("-m", "-c"))
    expected = vars(parser.parse_args(option_argv))
    quick = parse_quickly(argv)
    assert quick is not None
    assert vars(quick[0]) == expected
    assert quick[1] == target


@pytest.mark.parametrize("argv", LEFT, ids=shlex.join)
def test_the_quick_reader_leaves_the_rest_to_argparse(argv):
    from memlyze.cli.run_options import parse_quickly

    assert parse_quickly(argv) is None


def test_shell_words_quote_as_shlex():
    from memlyze.cli import shell_words

    words = ["", "plain", "with space", "it's", "a'b'c", "$HOME", "tab\there", "é", "-x=1,2:3@%+",
             "semi;colon", "new\nline", "back\\slash", '"double"', "*glob?"]
    for word in words:
        assert shell_words.quote(word) == shlex.quote(word), word
    assert shell_words.join(words) == shlex.join(words)


def test_the_capture_names_the_command_as_python_would_run_it(tmp_path):
    write_script(tmp_path, "named.py", "pass")
    capture = tmp_path / "named.mlyze"
    check(memlyze("run", "--in-process", "-o", capture, "named.py", "it's", "two words",
                  cwd=tmp_path))
    header = stats_json(capture, tmp_path)
    command = header.get("command") or header["header"]["command"]
    assert shlex.split(command)[1:] == ["named.py", "it's", "two words"]
    assert os.path.basename(shlex.split(command)[0]).startswith("python")
