"""Deaths that lose nothing (SPEC 6): a program that ends by os._exit, by exec
or by a terminating signal leaves a complete capture holding every
allocation it made, and ends exactly as it does without memlyze: the same
wait status (exit code, death signal, core dump), stdout and stderr.

Each workload allocates BLOCKS bytearrays of BLOCK_SIZE bytes, a size
nothing else asks for, so the capture's count of that size is exact.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from conftest import MEMLYZE, clean_env, write_script

BLOCKS = 40
BLOCK_SIZE = 54_321  # bytearray(n) asks for n + 1 bytes (its trailing NUL)
LATER_BLOCKS = 25

PROLOGUE = textwrap.dedent(f"""\
    import os, signal, sys
    kept = [bytearray({BLOCK_SIZE}) for _ in range({BLOCKS})]
    print("allocated", len(kept), flush=True)
""")

# How each workload ends after its allocations.
DEATHS = {
    "os._exit": "os._exit(3)",
    "SIGTERM": "os.kill(os.getpid(), signal.SIGTERM)",
    "SIGHUP": "os.kill(os.getpid(), signal.SIGHUP)",
    "SIGQUIT": "os.kill(os.getpid(), signal.SIGQUIT)",
    "SIGUSR1": "os.kill(os.getpid(), signal.SIGUSR1)",
    "SIGUSR2": "os.kill(os.getpid(), signal.SIGUSR2)",
    "SIGABRT": "os.abort()",
    "SIGSEGV fault": "import ctypes; ctypes.string_at(0)",
    "SIGSEGV kill": "os.kill(os.getpid(), signal.SIGSEGV)",
    "SIGBUS": "os.kill(os.getpid(), signal.SIGBUS)",
    "SIGFPE": "os.kill(os.getpid(), signal.SIGFPE)",
    "SIGILL": "os.kill(os.getpid(), signal.SIGILL)",
    "SIGINT": "os.kill(os.getpid(), signal.SIGINT)",
    "exec": "os.execv('/bin/sh', ['sh', '-c', 'echo from sh; exit 7'])",
}


def run_raw(command, cwd, core_limit=0, env=None) -> dict:
    """Runs command to its end; the raw wait status (os.waitpid's, which
    holds the core dump bit) and the output, with RLIMIT_CORE core_limit."""
    def limit_core():
        resource.setrlimit(resource.RLIMIT_CORE, (core_limit, core_limit))

    stdout_path, stderr_path = Path(cwd) / "stdout.txt", Path(cwd) / "stderr.txt"
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        process = subprocess.Popen([str(part) for part in command], cwd=cwd,
                                   env=env or clean_env(), stdout=stdout, stderr=stderr,
                                   preexec_fn=limit_core)
        _, status = os.waitpid(process.pid, 0)
        process.returncode = 0  # reaped above
    for core in Path(cwd).glob("core*"):
        core.unlink()
    return {"status": status, "stdout": stdout_path.read_text(),
            "stderr": stderr_path.read_text()}


def describe(status: int) -> tuple:
    if os.WIFSIGNALED(status):
        return ("signal", os.WTERMSIG(status), os.WCOREDUMP(status))
    return ("exit", os.WEXITSTATUS(status))


def counted_blocks(capture, size=BLOCK_SIZE + 1) -> int:
    from memlyze import FileReader

    with FileReader(str(capture)) as reader:
        assert not reader.truncated, f"{capture} is not complete"
        return sum(1 for record in reader.records()
                   if record.size == size and str(record.kind) == "alloc")


def recorded(mode: str, script: Path, capture: Path, *arguments) -> list:
    if mode == "run":
        return [*MEMLYZE, "run", "-o", capture, script, *arguments]
    return [*MEMLYZE, "record", "-o", capture, sys.executable, script, *arguments]


def compare_with_plain(tmp_path, source: str, mode: str, core_limit=0, env=None):
    """Runs source plainly and under memlyze (same script, same directory);
    asserts the same end and output; returns (plain run, capture path)."""
    script = write_script(tmp_path, "program.py", source)
    plain = run_raw([sys.executable, script], tmp_path, core_limit, env)
    capture = tmp_path / "program.mlyze"
    profiled = run_raw(recorded(mode, script, capture), tmp_path, core_limit, env)
    assert describe(profiled["status"]) == describe(plain["status"])
    assert profiled["stdout"] == plain["stdout"]
    return plain, profiled, capture


@pytest.mark.parametrize("mode", ["run", "record"])
@pytest.mark.parametrize("death", list(DEATHS))
def test_every_allocation_survives_the_death(tmp_path, mode, death):
    plain, profiled, capture = compare_with_plain(tmp_path, PROLOGUE + DEATHS[death] + "\n",
                                                  mode)
    assert plain["stdout"].startswith(f"allocated {BLOCKS}\n")
    if death != "SIGSEGV fault":  # ctypes' message names no address that may differ
        assert profiled["stderr"] == plain["stderr"]
    assert counted_blocks(capture) == BLOCKS


@pytest.mark.parametrize("death", ["SIGQUIT", "SIGABRT", "SIGSEGV fault"])
def test_core_dumps_as_without_memlyze(tmp_path, death):
    """With RLIMIT_CORE large the process dumps core with and without
    memlyze alike (and with it 0, test above, neither does)."""
    plain, _, capture = compare_with_plain(tmp_path, PROLOGUE + DEATHS[death] + "\n", "run",
                                           core_limit=resource.RLIM_INFINITY)
    assert describe(plain["status"])[2], "the plain run did not dump core"
    assert counted_blocks(capture) == BLOCKS


def test_failed_exec_goes_on_recording(tmp_path):
    source = PROLOGUE + textwrap.dedent(f"""\
        try:
            os.execv("/nonexistent/program", ["program"])
        except OSError as error:
            print("exec failed", error.errno)
        later = [bytearray({BLOCK_SIZE}) for _ in range({LATER_BLOCKS})]
        print("done", len(later))
    """)
    plain, profiled, capture = compare_with_plain(tmp_path, source, "run")
    assert describe(plain["status"]) == ("exit", 0)
    assert "exec failed 2\ndone 25\n" in plain["stdout"]
    assert counted_blocks(capture) == BLOCKS + LATER_BLOCKS


def test_subprocess_leaves_the_parents_capture_exact(tmp_path):
    """subprocess forks with vfork: the child shares the parent's memory and
    calls the hooked execve and sigaction; the parent's recording goes on."""
    source = PROLOGUE + textwrap.dedent(f"""\
        import subprocess
        for _ in range(3):
            subprocess.run(["/bin/sh", "-c", "exit 0"], check=True)
        subprocess.run([sys.executable, "-c", "print('child')"], check=True)
        later = [bytearray({BLOCK_SIZE}) for _ in range({LATER_BLOCKS})]
        print("done", len(later))
    """)
    plain, profiled, capture = compare_with_plain(tmp_path, source, "run")
    assert plain["stdout"].endswith("child\ndone 25\n")
    assert counted_blocks(capture) == BLOCKS + LATER_BLOCKS


HANDLER_LATER = PROLOGUE + textwrap.dedent("""\
    def on_term(number, frame):
        print("handled", number, flush=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    print("before", signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
    previous = signal.signal(signal.SIGTERM, on_term)
    print("set", previous is signal.SIG_DFL, signal.getsignal(signal.SIGTERM) is on_term)
    os.kill(os.getpid(), signal.SIGTERM)
    print("not reached")
""")


def test_program_handler_installed_later_runs(tmp_path):
    plain, _, capture = compare_with_plain(tmp_path, HANDLER_LATER, "run")
    assert describe(plain["status"]) == ("signal", signal.SIGTERM, False)
    assert plain["stdout"].endswith("before True\nset True True\nhandled 15\n")
    assert counted_blocks(capture) == BLOCKS


def test_ignored_signal_stays_ignored(tmp_path):
    source = PROLOGUE + textwrap.dedent("""\
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.kill(os.getpid(), signal.SIGTERM)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        os.kill(os.getpid(), signal.SIGUSR1)
        print("alive", signal.getsignal(signal.SIGTERM) is signal.SIG_IGN)
    """)
    plain, _, capture = compare_with_plain(tmp_path, source, "run")
    assert describe(plain["status"]) == ("exit", 0)
    assert plain["stdout"].endswith("alive True\n")
    assert counted_blocks(capture) == BLOCKS


def test_signal_ignored_before_start_then_defaulted(tmp_path):
    """SIGPIPE is ignored by Python at start-up (not taken over then); a
    program that puts SIG_DFL back and dies by it still loses nothing."""
    source = PROLOGUE + textwrap.dedent("""\
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        reader, writer = os.pipe()
        os.close(reader)
        os.write(writer, b"x")
    """)
    plain, _, capture = compare_with_plain(tmp_path, source, "run")
    assert describe(plain["status"]) == ("signal", signal.SIGPIPE, False)
    assert counted_blocks(capture) == BLOCKS


@pytest.mark.parametrize("enabled", ["faulthandler.enable()", "PYTHONFAULTHANDLER"])
def test_faulthandler_still_prints(tmp_path, enabled):
    source = PROLOGUE + textwrap.dedent(f"""\
        import ctypes, faulthandler
        {"faulthandler.enable()" if enabled != "PYTHONFAULTHANDLER" else "pass"}
        ctypes.string_at(0)
    """)
    env = clean_env(PYTHONFAULTHANDLER="1") if enabled == "PYTHONFAULTHANDLER" else None
    plain, profiled, capture = compare_with_plain(tmp_path, source, "run", env=env)
    assert describe(plain["status"]) == ("signal", signal.SIGSEGV, False)
    for output in (plain["stderr"], profiled["stderr"]):
        assert "Fatal Python error: Segmentation fault" in output
        assert 'program.py", line 6 in <module>' in output
    assert counted_blocks(capture) == BLOCKS


POOL = textwrap.dedent(f"""\
    import json, multiprocessing, os


    def work(task):
        blocks = [bytearray({BLOCK_SIZE}) for _ in range(5)]
        return os.getpid()


    if __name__ == "__main__":
        with multiprocessing.get_context("fork").Pool(4) as pool:
            pids = pool.map(work, range(24), chunksize=1)
            workers = [process.pid for process in pool._pool]
        print(json.dumps({{"pids": pids, "workers": workers}}))
""")


def test_pool_workers_terminated_by_with_keep_their_captures(tmp_path):
    """Pool.__exit__ terminates its workers with SIGTERM: each worker's
    capture is complete and holds the blocks of the tasks it ran."""
    script = write_script(tmp_path, "pool.py", POOL)
    result = subprocess.run([*MEMLYZE, "run", "--follow-fork", "-o", "pool.mlyze", str(script)],
                            cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    tasks = Counter(report["pids"])
    assert len(report["workers"]) == 4
    for pid in report["workers"]:
        assert counted_blocks(tmp_path / f"pool.mlyze.{pid}") == 5 * tasks.get(pid, 0)
    assert sum(tasks.values()) == 24


REAL_DISPOSITIONS = textwrap.dedent("""\
    import ctypes, signal, sys
    import memlyze

    class Sigaction(ctypes.Structure):  # glibc's struct sigaction on x86-64
        _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ubyte * 128),
                    ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]

    # Called through a pointer from dlsym (ctypes), so never through the
    # hooks: what the kernel really holds.
    libc = ctypes.CDLL(None, use_errno=True)

    def real_handler(number):
        action = Sigaction()
        assert libc.sigaction(number, None, ctypes.byref(action)) == 0
        return action.handler or 0

    def on_signal(number, frame):
        pass

    tracker = memlyze.Tracker(sys.argv[1], force=True).start()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while_tracking = real_handler(signal.SIGTERM), real_handler(signal.SIGHUP)
    tracker.stop()
    signal.signal(signal.SIGUSR2, on_signal)  # CPython's own trampoline, set for real
    trampoline = real_handler(signal.SIGUSR2)
    print(while_tracking[0] != trampoline, while_tracking[1] == 1,
          real_handler(signal.SIGTERM) == trampoline, real_handler(signal.SIGHUP) == 1,
          real_handler(signal.SIGQUIT) == 0)
""")


def test_tracker_stop_gives_back_the_programs_dispositions(tmp_path):
    """While tracking, our handler stands in front of the program's (SIG_IGN
    is applied for real); at stop the kernel gets back exactly what the
    program set last."""
    script = write_script(tmp_path, "dispositions.py", REAL_DISPOSITIONS)
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "d.mlyze")],
                            cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"] * 5
