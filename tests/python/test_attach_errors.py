"""Every reason memlyze attach / detach cannot go ahead is one line on
stderr, a non-zero exit status and no traceback, and the process is left as
it was."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attach_target import EXIT_STATUS, OUTPUT, Target
from conftest import MEMLYZE, assert_one_line_error, clean_env, memlyze
from memlyze.attach import ptrace_permission

THIS_BUILD = f"{sys.version_info[0]}.{sys.version_info[1]}{sys.abiflags}"


@pytest.fixture
def target(tmp_path):
    process = Target(tmp_path).start()
    yield process
    process.kill()


def error_of(result) -> str:
    assert_one_line_error(result)
    return result.stderr.removeprefix("memlyze: error: ").rstrip("\n")


def test_no_such_process(tmp_path):
    result = memlyze("attach", "99999999", "-o", tmp_path / "x.mlyze", cwd=tmp_path)
    assert error_of(result) == "no such process: 99999999"
    assert error_of(memlyze("detach", "99999999", cwd=tmp_path)) == "no such process: 99999999"


def test_not_a_python_process(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        result = memlyze("attach", sleeper.pid, "-o", tmp_path / "x.mlyze", cwd=tmp_path)
        assert error_of(result) == (
            f"process {sleeper.pid} ({shutil.which('sleep')}) is not a Python process: no "
            "CPython library or interpreter is mapped in it")
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def other_python() -> tuple[str, str]:
    """An interpreter of another version than this one, and its build
    (scripts/test.sh exports MEMLYZE_PYTHON_3_14; pyenv's others do too)."""
    candidates = [os.environ.get("MEMLYZE_PYTHON_3_14", ""), "/usr/bin/python3.11",
                  *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1*/bin/python3.1*")))]
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        build = subprocess.run(
            [candidate, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}"
                              "{sys.abiflags}')"], capture_output=True, text=True).stdout.strip()
        if re.fullmatch(r"\d+\.\d+[a-z]*", build) and build != THIS_BUILD:
            return candidate, build
    raise AssertionError("no interpreter of another version (scripts/test.sh sets "
                         "MEMLYZE_PYTHON_3_14)")


def test_another_python_version(tmp_path):
    python, build = other_python()
    process = Target(tmp_path, python=python).start()
    try:
        result = memlyze("attach", process.pid, "-o", tmp_path / "x.mlyze", cwd=tmp_path)
        message = error_of(result)
        assert message.startswith(f"process {process.pid} runs Python {build} (")
        assert f"this memlyze is installed for Python {THIS_BUILD} ({sys.executable}): " in message
        assert message.endswith(f"run memlyze attach from an installation for Python {build}"
                                if build in ("3.11", "3.12", "3.13", "3.13t") else
                                "memlyze supports CPython 3.11, 3.12, 3.13 and free-threaded 3.13t")
        process.go()
        assert process.finish() == (EXIT_STATUS, OUTPUT)
    finally:
        process.kill()


TRACER = """
import ctypes
import sys

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_SEIZE = 0x4206  # traces without stopping the process
if libc.ptrace(PTRACE_SEIZE, int(sys.argv[1]), None, None) != 0:
    sys.exit(f"ptrace: errno {ctypes.get_errno()}")
print("tracing", flush=True)
sys.stdin.read()
"""


def test_ptrace_refused_for_a_process_already_traced(target, tmp_path):
    tracer = subprocess.Popen([sys.executable, "-c", TRACER, str(target.pid)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert tracer.stdout.readline() == "tracing\n"
        result = memlyze("attach", target.pid, "-o", tmp_path / "x.mlyze", cwd=tmp_path)
        name = Path(f"/proc/{tracer.pid}/comm").read_text().strip()
        assert error_of(result) == (
            f"ptrace refused: process {target.pid} is already traced by process {tracer.pid} "
            f"({name}), and a process has one tracer at a time (a debugger or strace may be "
            "attached to it)")
    finally:
        tracer.stdin.close()
        tracer.wait(timeout=60)
    target.go()
    assert target.finish() == (EXIT_STATUS, OUTPUT)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a process as another user")
def test_ptrace_refused_without_the_capability_for_another_users_process(tmp_path):
    """A process of uid 65534, and memlyze as root without CAP_SYS_PTRACE."""
    other = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              "sleep", "60"])
    try:
        deadline = time.monotonic() + 60
        while ptrace_permission.status_fields(other.pid).get("Uid", "").split()[:1] != ["65534"]:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        without = ["setpriv", "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace"]
        result = subprocess.run([*without, *MEMLYZE, "attach", str(other.pid), "-o",
                                 str(tmp_path / "x.mlyze")], cwd=tmp_path, env=clean_env(),
                                capture_output=True, text=True, timeout=180)
        assert error_of(result) == (
            f"ptrace refused: process {other.pid} runs as uid 65534 and memlyze as uid 0 "
            "without CAP_SYS_PTRACE (run memlyze as that user, or as root)")
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_gdb_missing(target, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    result = memlyze("attach", target.pid, "-o", tmp_path / "x.mlyze", cwd=tmp_path,
                     env=clean_env(PATH=str(empty)))
    assert error_of(result) == (
        "gdb is not installed (or not on PATH), and memlyze attach needs it on Python "
        "3.11-3.13 (Debian, Ubuntu: apt-get install gdb)")
    assert not (tmp_path / "x.mlyze").exists()


def test_detach_without_a_tracker(target, tmp_path):
    result = memlyze("detach", target.pid, cwd=tmp_path)
    assert error_of(result) == (f"no memlyze tracker is running in process {target.pid} "
                                f"(memlyze attach {target.pid} -o FILE starts one)")
    target.go()
    assert target.finish() == (EXIT_STATUS, OUTPUT)


def test_a_tracker_the_program_started_is_not_attach_s(tmp_path):
    """The program's own Tracker: attach says one runs, detach leaves it."""
    script = """
import os
import sys
import time

import memlyze

print("waiting", flush=True)
with memlyze.Tracker(sys.argv[1] + ".own.mlyze"):
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.01)
    print("allocating", flush=True)
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.01)
print("done True", flush=True)
sys.exit(7)
"""
    process = Target(tmp_path, script=script).start()
    try:
        attach = memlyze("attach", process.pid, "-o", tmp_path / "x.mlyze", cwd=tmp_path)
        assert error_of(attach) == (f"a memlyze tracker is already running in process "
                                    f"{process.pid} (started by the program itself, or by "
                                    "memlyze run/record)")
        detach = memlyze("detach", process.pid, cwd=tmp_path)
        assert error_of(detach) == (
            f"no recording started by memlyze attach runs in process {process.pid} (the one "
            "that runs was started by the program itself, or by memlyze run/record, and "
            "stops with it)")
        process.go()
        assert process.finish() == (EXIT_STATUS, OUTPUT)
    finally:
        process.kill()


BLOCKED = """
import sys
import time

print("waiting", flush=True)
time.sleep(float(sys.argv[3]))
print("done", flush=True)
"""


def test_a_process_that_runs_no_python_code_is_left_alone(tmp_path):
    """Its main thread sleeps in one call: attach gives up after --wait, and
    the withdrawn request does nothing when the sleep ends."""
    process = Target(tmp_path, script=BLOCKED)
    process.process = subprocess.Popen(
        [sys.executable, str(process.script), "go", "stop", "4"], cwd=tmp_path,
        env=clean_env(), stdout=subprocess.PIPE, text=True)
    try:
        process.expect("waiting")
        capture = tmp_path / "x.mlyze"
        result = memlyze("attach", process.pid, "-o", capture, "--wait", "1", cwd=tmp_path)
        assert error_of(result) == (
            f"process {process.pid} ran no Python code for 1 s, so memlyze's request was "
            "withdrawn (its main thread may be blocked in one long call; --wait gives it "
            "longer)")
        rest = process.process.stdout.read()
        assert (process.process.wait(timeout=120), rest) == (0, "done\n")
        assert not capture.exists()
    finally:
        process.kill()


def test_bad_arguments(tmp_path):
    assert "expected a process id" in error_of(memlyze("attach", "abc", cwd=tmp_path))
    assert "expected a number of seconds" in error_of(
        memlyze("attach", "1", "-o", "x", "--duration", "0", cwd=tmp_path))


def test_refusal_reasons_name_the_setting():
    """The Yama settings this machine may not have, as gdb's refusal is explained."""
    fields = {"Uid": "0\t0\t0\t0", "Gid": "0\t0\t0\t0", "TracerPid": "0"}
    no_cap = ptrace_permission.Settings(capable=False, yama_scope=None)
    assert ptrace_permission.certain_refusal(1, fields, ptrace_permission.Settings(True, 3)) \
        .startswith("ptrace refused: kernel.yama.ptrace_scope is 3")
    assert ptrace_permission.certain_refusal(1, fields, ptrace_permission.Settings(False, 2)) \
        .startswith("ptrace refused: kernel.yama.ptrace_scope is 2")
    assert ptrace_permission.certain_refusal(1, fields, ptrace_permission.Settings(True, 2)) is None
    assert ptrace_permission.certain_refusal(1, fields, ptrace_permission.Settings(True, 1)) is None
    other_user = dict(fields, Uid="1000\t1000\t1000\t1000")
    if os.geteuid() != 1000:
        assert "runs as uid 1000" in ptrace_permission.certain_refusal(1, other_user, no_cap)
    explained = ptrace_permission.refusal_reason(
        os.getpid(), "ptrace: Operation not permitted.", ptrace_permission.Settings(False, 1))
    assert explained.startswith("ptrace refused: kernel.yama.ptrace_scope is 1")
    said = ptrace_permission.refusal_reason(
        os.getpid(), "ptrace: Operation not permitted.", ptrace_permission.Settings(True, None))
    assert said.startswith(f"ptrace refused for process {os.getpid()} (ptrace: Operation not "
                           "permitted.): it may not be dumpable")
