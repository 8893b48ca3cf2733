"""--follow-fork: each forked child writes its own capture <output>.<pid>,
starting from the stacks it inherited; the parent's capture is undisturbed."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import (MEMLYZE, assert_close, bytearray_bytes, check,
                      comprehension, clean_env, find_location, line_of, memlyze, stats_json,
                      write_script)

FORKING = """
import multiprocessing
import os
import sys


def child_work(size):
    block = bytearray(size)  # CHILD
    return len(block)


def hold():
    return [bytearray(1_000_000) for _ in range(100)]  # HOLD


if __name__ == "__main__":
    context = multiprocessing.get_context("fork")
    process = context.Process(target=child_work, args=(5_000_000,))
    process.start()
    process.join()
    print("process", process.exitcode, process.pid)
    pid = os.fork()
    if pid == 0:
        junk = bytearray(7_000_000)  # FORKED
        sys.exit(0)
    os.waitpid(pid, 0)
    print("forked", pid)
    blocks = hold()
    print("parent", len(blocks))
"""


def test_follow_fork_children_and_parent_captures(tmp_path):
    script = write_script(tmp_path, "forking.py", FORKING)
    result = check(memlyze("run", "--follow-fork", "-o", "fork.mlyze", script, cwd=tmp_path))
    lines = result.stdout.split()
    process_pid, forked_pid = int(lines[2]), int(lines[4])
    assert lines[1] == "0" and lines[-1] == "100"
    assert sorted(path.name for path in tmp_path.glob("fork.mlyze*")) == sorted(
        ["fork.mlyze", f"fork.mlyze.{process_pid}", f"fork.mlyze.{forked_pid}"])

    parent = stats_json(tmp_path / "fork.mlyze", tmp_path)
    assert parent["truncated"] is False
    hold = find_location(parent["top_by_total"], comprehension("hold"), "forking.py")
    assert hold and hold["line"] == line_of(script, "HOLD")
    assert_close(hold["bytes"], 100 * 1_000_001, 0.01)
    assert find_location(parent["top_by_total"], "child_work", "forking.py") is None

    # multiprocessing's child ends with os._exit: its capture is complete anyway.
    child = stats_json(tmp_path / f"fork.mlyze.{process_pid}", tmp_path)
    assert child["truncated"] is False and child["pid"] == process_pid
    work = find_location(child["top_by_total"], "child_work", "forking.py")
    assert work and (work["line"], work["bytes"]) == (line_of(script, "CHILD"),
                                                      bytearray_bytes(5_000_000))
    assert find_location(child["top_by_total"], comprehension("hold"), "forking.py") is None

    from memlyze import FileReader

    with FileReader(tmp_path / f"fork.mlyze.{forked_pid}") as reader:
        assert reader.summary["truncated"] is False
        peak = next(reader.peak_allocations())
        assert peak.bytes == bytearray_bytes(7_000_000)
        # The inherited stack: the child's frame sits in the parent's <module>.
        assert (peak.stack[0].function, peak.stack[0].line) == ("<module>", line_of(script, "FORKED"))


def test_without_follow_fork_children_write_nothing(tmp_path):
    script = write_script(tmp_path, "forking.py", FORKING)
    check(memlyze("run", "-o", "fork.mlyze", script, cwd=tmp_path))
    assert [path.name for path in tmp_path.glob("fork.mlyze*")] == ["fork.mlyze"]


WSGI_APP = """
HELD = []


def application(environ, start_response):
    HELD.append(bytearray(3_000_017))  # REQUEST
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""

REQUESTS = 12


def free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


def wait_until_serving(url, server, deadline):
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start serving in time")


def request_blocks(capture) -> int:
    """The request buffers (bytearray(3_000_017)) allocated in capture."""
    from memlyze import FileReader

    with FileReader(capture) as reader:
        return sum(1 for record in reader.records()
                   if record.size == 3_000_018 and "free" not in str(record.kind).lower())


def test_gunicorn_workers_each_write_a_capture(tmp_path):
    write_script(tmp_path, "wsgi_app.py", WSGI_APP)
    gunicorn = Path(sys.executable).parent / "gunicorn"
    port = free_port()
    server = subprocess.Popen(
        [*MEMLYZE, "record", "--follow-fork", "-o", "g.mlyze", str(gunicorn), "-w", "2",
         "-b", f"127.0.0.1:{port}", "--chdir", str(tmp_path), "wsgi_app:application"],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        assert wait_until_serving(url, server, time.monotonic() + 60) == b"ok"
        for _ in range(REQUESTS - 1):
            with urllib.request.urlopen(url, timeout=10) as response:
                assert response.read() == b"ok"
    finally:
        server.send_signal(signal.SIGTERM)
        stdout, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr
    workers = [path for path in tmp_path.glob("g.mlyze.*")]
    assert len(workers) == 2, (list(tmp_path.iterdir()), stderr)
    served = 0
    for capture in workers:
        stats = stats_json(capture, tmp_path)
        assert stats["truncated"] is False
        assert stats["pid"] == int(capture.suffix[1:])
        entry = find_location(stats["top_by_total"], "application", "wsgi_app.py")
        if entry is not None:
            assert entry["line"] == line_of(tmp_path / "wsgi_app.py", "REQUEST")
            requests = request_blocks(capture)
            # The line also grows HELD (recorded where Python's allocators are).
            assert 0 <= entry["bytes"] - bytearray_bytes(3_000_017, requests) <= 1024 * requests
            served += requests
    assert served == REQUESTS
    master = stats_json(tmp_path / "g.mlyze", tmp_path)
    assert master["truncated"] is False
    assert find_location(master["top_by_total"], "application", "wsgi_app.py") is None


EXECING = """
import subprocess
import sys

# preexec_fn makes subprocess fork (not vfork): the child is a follow-fork
# child until it execs, and then another program.
subprocess.run([sys.executable, "-c", "pass"], preexec_fn=lambda: None, check=True)
subprocess.run(["true"], check=True)
print("ran")
"""


def test_children_that_exec_leave_no_capture(tmp_path):
    script = write_script(tmp_path, "execing.py", EXECING)
    check(memlyze("run", "--follow-fork", "-o", "exec.mlyze", script, cwd=tmp_path))
    assert [path.name for path in tmp_path.glob("exec.mlyze*")] == ["exec.mlyze"]
