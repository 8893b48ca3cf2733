"""The profiled program's stdout, stderr, exit status and signals pass through."""

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import MEMLYZE, check, clean_env, memlyze, python, stats_json, write_script

PROGRAMS = {
    "exit_zero": """
        import sys
        print("to stdout")
        print("to stderr", file=sys.stderr)
        data = sys.stdin.read()
        print("stdin had", len(data), "characters")
    """,
    "sys_exit_3": """
        import sys
        print("before exit")
        sys.stdout.flush()
        print("oops", file=sys.stderr)
        sys.exit(3)
    """,
    "uncaught_exception": """
        def fail():
            raise ValueError("boom")
        print("about to fail")
        fail()
    """,
    "nonzero_exit_message": """
        import sys
        sys.exit("fatal: something went wrong")
    """,
    "sigterm_self": """
        import os, signal, sys
        print("killing myself", flush=True)
        os.kill(os.getpid(), signal.SIGTERM)
        print("not reached")
    """,
    "arguments": """
        import sys
        print(sys.argv[1:])
        print(sys.argv[0].endswith("arguments.py"))
    """,
}


@pytest.mark.parametrize("command", ["run", "record"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_output_and_status_are_unchanged(tmp_path, name, command):
    script = write_script(tmp_path, f"{name}.py", PROGRAMS[name])
    args = [script, "--flag", "a b", "-m", "x"]
    expected = python(*args, cwd=tmp_path, input="some input\n")
    target = [sys.executable, *args] if command == "record" else args
    result = memlyze(command, "-o", "out.mlyze", *target, cwd=tmp_path, input="some input\n")
    assert (result.returncode, result.stdout, result.stderr) == (
        expected.returncode, expected.stdout, expected.stderr)
    if name == "sigterm_self":
        assert result.returncode == -signal.SIGTERM
    assert (tmp_path / "out.mlyze").stat().st_size > 0


def test_program_atexit_handlers_run_before_tracking_stops(tmp_path):
    script = write_script(tmp_path, "cleanup.py", """
        import atexit

        CACHE = []


        def fill():
            for _ in range(50):
                CACHE.append(bytearray(1_000_000))


        def cleanup():
            CACHE.clear()  # freed by the program's own atexit handler
            print("cleaned up")


        atexit.register(cleanup)
        fill()
    """)
    result = check(memlyze("run", "-o", "out.mlyze", script, cwd=tmp_path))
    assert result.stdout == "cleaned up\n"
    stats = stats_json(tmp_path / "out.mlyze", tmp_path)
    assert stats["peak_bytes"] >= 50 * 1_000_001
    assert stats["leaked_bytes"] < 10 * 1_000_000
    assert all(entry["function"] != "fill" for entry in stats["top_leaks"])


def test_record_execs_and_passes_signals(tmp_path):
    """http.server under `record`: no wrapper process, SIGINT reaches Python."""
    env = clean_env(PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [*MEMLYZE, "record", "-o", "server.mlyze", sys.executable, "-m", "http.server",
         "0", "--bind", "127.0.0.1"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell's background job ignores SIGINT, and exec keeps that: give
        # the server the default disposition whatever ran these tests.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = process.stdout.readline()
        assert "Serving HTTP on 127.0.0.1 port" in line, line + process.stderr.read()
        port = int(line.split(" port ")[1].split()[0])
        # The process we started is the server itself: record exec'd it.
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert b"http.server" in cmdline
        (tmp_path / "hello.txt").write_text("hello")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt", timeout=30) as reply:
            assert reply.read() == b"hello"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "Keyboard interrupt received, exiting." in stdout
    assert "GET /hello.txt" in stderr
    result = check(memlyze("stats", "--json", "server.mlyze", cwd=tmp_path))
    assert "truncated" not in result.stderr


def test_sigkill_leaves_a_readable_truncated_capture(tmp_path):
    script = write_script(tmp_path, "victim.py", """
        import sys, time
        kept = []
        for _ in range(50):
            kept.append(bytearray(1_000_000))
        print("ready", flush=True)
        time.sleep(60)
    """)
    process = subprocess.Popen([*MEMLYZE, "run", "-o", "killed.mlyze", script], cwd=tmp_path,
                               env=clean_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "ready\n"
        time.sleep(1.0)  # let the writer thread write what it has
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    for command in (["stats", "--json"], ["stats"], ["summary"]):
        result = memlyze(*command, "killed.mlyze", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "capture is truncated" in result.stderr
        assert "Traceback" not in result.stderr
    stats = stats_json(tmp_path / "killed.mlyze", tmp_path)
    assert stats["truncated"] is True


def test_subprocesses_are_not_tracked(tmp_path):
    (tmp_path / "lib").mkdir()
    script = write_script(tmp_path, "parent.py", """
        import os, subprocess, sys
        print("PYTHONPATH", os.environ.get("PYTHONPATH"))
        print("MEMLYZE_RECORD", os.environ.get("MEMLYZE_RECORD"))
        child = subprocess.run(
            [sys.executable, "-c",
             "import os, sys; "
             "print(os.environ.get('PYTHONPATH'), os.environ.get('MEMLYZE_RECORD'), "
             "'memlyze' in sys.modules); "
             "big = [bytearray(1_000_000) for _ in range(300)]"],
            capture_output=True, text=True, check=True)
        print("child", child.stdout.strip())
    """)
    library = str(tmp_path / "lib")
    result = check(memlyze("run", "-o", "parent.mlyze", script, cwd=tmp_path,
                           env=clean_env(PYTHONPATH=library)))
    assert result.stdout.splitlines() == [
        f"PYTHONPATH {library}",
        "MEMLYZE_RECORD None",
        f"child {library} None False",
    ]
    stats = stats_json(tmp_path / "parent.mlyze", tmp_path)
    assert stats["total_bytes"] < 100 * 1_000_000  # the child's 300 MB are not here


def test_pythonpath_unset_stays_unset(tmp_path):
    script = write_script(tmp_path, "env.py", """
        import os, sys
        print("PYTHONPATH" in os.environ)
        print([entry for entry in sys.path if "_bootstrap" in entry])
    """)
    env = clean_env()
    env.pop("PYTHONPATH", None)
    result = check(memlyze("run", "-o", "env.mlyze", script, cwd=tmp_path, env=env))
    assert result.stdout == "False\n[]\n"


def test_existing_sitecustomize_still_runs(tmp_path):
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "sitecustomize.py").write_text(
        "import sys\nsys.memlyze_test_marker = 'custom sitecustomize ran'\n")
    script = write_script(tmp_path, "check.py", """
        import sys
        print(getattr(sys, "memlyze_test_marker", "custom sitecustomize missing"))
        print(sys.modules["sitecustomize"].__file__)
    """)
    result = check(memlyze("run", "-o", "chain.mlyze", script, cwd=tmp_path,
                           env=clean_env(PYTHONPATH=str(custom))))
    assert result.stdout.splitlines() == [
        "custom sitecustomize ran", str(custom / "sitecustomize.py")]
    stats_json(tmp_path / "chain.mlyze", tmp_path)


def test_record_python_m_pytest(tmp_path):
    tests = tmp_path / "tiny"
    tests.mkdir()
    write_script(tests, "test_tiny.py", """
        KEEP = []


        def test_allocates():
            for _ in range(20):
                KEEP.append(bytearray(1_000_000))  # KEEP
            assert len(KEEP) == 20


        def test_nothing():
            assert True
    """)
    result = memlyze("record", "-o", "pytest.mlyze", sys.executable, "-m", "pytest", "-q",
                     "-p", "no:cacheprovider", "tiny", cwd=tmp_path)
    check(result)
    assert "2 passed" in result.stdout
    stats = stats_json(tmp_path / "pytest.mlyze", tmp_path)
    entry = next(entry for entry in stats["top_leaks"]
                 if entry["function"] == "test_allocates")
    assert Path(entry["file"]).name == "test_tiny.py"
    assert entry["bytes"] >= 20 * 1_000_001
    # A failing test suite's exit status passes through too.
    write_script(tests, "test_fails.py", "def test_fails():\n    assert False\n")
    failed = memlyze("record", "-f", "-o", "pytest.mlyze", sys.executable, "-m", "pytest", "-q",
                     "-p", "no:cacheprovider", "tiny", cwd=tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "1 failed, 2 passed" in failed.stdout


def test_isolated_python_is_not_profiled_and_memlyze_says_so(tmp_path):
    write_script(tmp_path, "hello.py", "print('hello')\n")
    result = check(memlyze("record", "-o", "iso.mlyze", sys.executable, "-I", "hello.py",
                           cwd=tmp_path))
    assert result.stdout == "hello\n"
    assert result.stderr.startswith("memlyze: warning: python -I disables the start-up hook")
    stats = memlyze("stats", "iso.mlyze", cwd=tmp_path)
    assert stats.returncode != 0 and "is empty" in stats.stderr


def test_start_up_leaves_few_modules_behind(tmp_path):
    """The hook imports no json, re, threading, typing or importlib.util into
    the program (they cost every profiled process milliseconds, and threading
    changes where the program's objects land), and `memlyze run --exec`
    reaches its exec without loading the tracker. (In-process, the installed
    command imports none of them either: test_run_in_process.py.)"""
    script = write_script(tmp_path, "modules.py", """
        import sys
        print(sorted(name for name in ("enum", "importlib.util", "json", "re", "threading",
                                       "typing") if name in sys.modules))
    """)
    assert check(python(script, cwd=tmp_path)).stdout == "[]\n"
    assert check(memlyze("run", "--exec", "-o", "modules.mlyze", script,
                         cwd=tmp_path)).stdout == "[]\n"
    before_exec = check(python("-c", """if True:
        import os, sys
        from memlyze.cli.main import main

        def report(*arguments):
            print(sorted(name for name in ("json", "memlyze._memlyze", "memlyze.tracker",
                                           "threading", "typing") if name in sys.modules))
            os._exit(0)

        os.execve = report
        main(["run", "--exec", "-o", "exec.mlyze", "modules.py"])
    """, cwd=tmp_path))
    assert before_exec.stdout == "[]\n"


def test_threads_started_after_the_program_imports_threading_are_named(tmp_path):
    """threading is not imported by the tracker: its Thread class is wrapped
    when the program imports it, and the import leaves no trace (the module's
    loader is the real one, nothing stays in sys.meta_path)."""
    script = write_script(tmp_path, "late_threading.py", """
        import sys
        assert "threading" not in sys.modules
        finders = list(sys.meta_path)
        import threading
        def work():
            global kept
            kept = bytearray(300_000)
        thread = threading.Thread(target=work, name="late-worker")
        thread.start()
        thread.join()
        assert type(threading.__loader__).__name__ == "SourceFileLoader"
        assert threading.__spec__.loader is threading.__loader__
        print(len(finders) - len(sys.meta_path))
    """)
    result = check(memlyze("run", "-o", "late.mlyze", script, cwd=tmp_path))
    assert result.stdout == "1\n"  # the watch left when threading was imported
    import memlyze as memlyze_package

    threads = memlyze_package.FileReader(str(tmp_path / "late.mlyze")).threads()
    assert {"MainThread", "late-worker"} <= {thread["name"] for thread in threads}
