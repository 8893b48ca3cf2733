"""--follow-subprocesses: every Python process started below the profiled one
records into <output>.<pid> (parent pid and command in its header), and the
Python subprocesses a recording misses are named on stderr at its end."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import (BYTEARRAY_ALLOCATIONS, MEMLYZE, REPO, bytearray_bytes, check, clean_env, find_location, line_of,
                      memlyze, stats_json, write_script)
from test_follow_fork import REQUESTS, WSGI_APP, free_port, request_blocks, wait_until_serving

CHILD = """
import sys

block = bytearray(int(sys.argv[1]))  # CHILD
print("child", len(block))
"""

RUNNING = """
import subprocess
import sys

subprocess.run([sys.executable, "child.py", "4000000"], check=True)
held = bytearray(2_000_000)  # PARENT
print("parent", len(held))
"""


def captures(directory: Path, name: str) -> dict[int, tuple[Path, dict]]:
    """pid -> (path, stats) of every <name>.<pid> capture."""
    found = {}
    for path in sorted(directory.glob(f"{name}.*")):
        stats = stats_json(path, directory)
        found[stats["pid"]] = (path, stats)
    return found


def test_subprocess_run_child_records_its_own_capture(tmp_path):
    child = write_script(tmp_path, "child.py", CHILD)
    script = write_script(tmp_path, "running.py", RUNNING)
    result = check(memlyze("run", "--follow-subprocesses", "-o", "run.mlyze", script,
                           cwd=tmp_path))
    assert result.stdout == "child 4000000\nparent 2000000\n"
    assert result.stderr == ""  # every Python process was followed
    parent = stats_json(tmp_path / "run.mlyze", tmp_path)
    assert parent["parent_pid"] is None
    assert find_location(parent["top_by_total"], "<module>", "child.py") is None
    children = captures(tmp_path, "run.mlyze")
    assert len(children) == 1
    (pid, (path, stats)), = children.items()
    assert path.name == f"run.mlyze.{pid}"
    assert stats["parent_pid"] == parent["pid"]
    assert stats["command"] == f"{sys.executable} child.py 4000000"
    assert stats["truncated"] is False
    entry = find_location(stats["top_by_total"], "<module>", "child.py")
    assert (entry["line"], entry["bytes"], entry["count"]) == (
        line_of(child, "CHILD"), bytearray_bytes(4_000_000), BYTEARRAY_ALLOCATIONS)
    assert find_location(stats["top_by_total"], "<module>", "running.py") is None


POOL = """
import multiprocessing
import sys


def work(size):
    block = bytearray(size)  # WORK
    return len(block)


if __name__ == "__main__":
    pool = multiprocessing.get_context(sys.argv[1]).Pool(2)
    print(sum(pool.map(work, [3_000_000] * 6)))
    pool.close()
    pool.join()
"""


def check_pool(tmp_path, method):
    script = write_script(tmp_path, "pool.py", POOL)
    result = check(memlyze("run", "--follow-subprocesses", "-o", "pool.mlyze", script, method,
                           cwd=tmp_path))
    assert result.stdout == "18000000\n" and result.stderr == ""
    top = stats_json(tmp_path / "pool.mlyze", tmp_path)
    assert find_location(top["top_by_total"], "work", "pool.py") is None
    children = captures(tmp_path, "pool.mlyze")
    pids = set(children) | {top["pid"]}
    blocks = 0
    for pid, (path, stats) in children.items():
        assert stats["truncated"] is False, path
        assert stats["parent_pid"] in pids, (path, stats["parent_pid"])
        assert path.name == f"pool.mlyze.{pid}"
        entry = find_location(stats["top_by_total"], "work", "pool.py")
        if entry is not None:
            assert entry["line"] == line_of(script, "WORK")
            assert entry["bytes"] % bytearray_bytes(3_000_000) == 0
            blocks += entry["bytes"] // bytearray_bytes(3_000_000)
    assert blocks == 6  # each task's block, in the worker that ran it
    return top, children


def test_multiprocessing_spawn_pool_workers_are_followed(tmp_path):
    top, children = check_pool(tmp_path, "spawn")
    workers = [stats for _, stats in children.values() if "spawn_main" in stats["command"]]
    assert len(workers) == 2
    assert all(stats["parent_pid"] == top["pid"] for stats in workers)


def test_multiprocessing_forkserver_pool_workers_are_followed(tmp_path):
    top, children = check_pool(tmp_path, "forkserver")
    servers = [stats for _, stats in children.values()
               if "forkserver" in stats["command"] and stats["parent_pid"] == top["pid"]]
    assert len(servers) == 1
    # The workers are forks of the fork server.
    workers = [stats for _, stats in children.values()
               if stats["parent_pid"] == servers[0]["pid"]]
    assert len(workers) == 2


EXECING = """
import os
import sys

before = bytearray(1_000_000)
sys.stdout.flush()
os.execv(sys.executable, [sys.executable, "child.py", "6000000"])
"""


def test_execv_into_python_records_the_new_image(tmp_path):
    child = write_script(tmp_path, "child.py", CHILD)
    script = write_script(tmp_path, "execing.py", EXECING)
    result = check(memlyze("run", "--follow-subprocesses", "-o", "exec.mlyze", script,
                           cwd=tmp_path))
    assert result.stdout == "child 6000000\n"
    children = captures(tmp_path, "exec.mlyze")
    assert len(children) == 1
    (pid, (path, stats)), = children.items()
    # exec keeps the pid: the new image is its own parent in the process tree.
    assert stats["parent_pid"] == pid
    assert stats["command"] == f"{sys.executable} child.py 6000000"
    entry = find_location(stats["top_by_total"], "<module>", "child.py")
    assert (entry["line"], entry["bytes"]) == (line_of(child, "CHILD"),
                                               bytearray_bytes(6_000_000))


def test_gunicorn_sync_workers_each_record_their_requests(tmp_path):
    write_script(tmp_path, "wsgi_app.py", WSGI_APP)
    gunicorn = Path(sys.executable).parent / "gunicorn"
    port = free_port()
    server = subprocess.Popen(
        [*MEMLYZE, "record", "--follow-subprocesses", "-o", "g.mlyze", str(gunicorn), "-w",
         "2", "-k", "sync", "-b", f"127.0.0.1:{port}", "--chdir", str(tmp_path),
         "wsgi_app:application"],
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
    master = stats_json(tmp_path / "g.mlyze", tmp_path)
    workers = captures(tmp_path, "g.mlyze")
    assert len(workers) == 2, (list(tmp_path.iterdir()), stderr)
    served = 0
    for pid, (path, stats) in workers.items():
        assert stats["truncated"] is False and stats["parent_pid"] == master["pid"]
        entry = find_location(stats["top_by_total"], "application", "wsgi_app.py")
        if entry is not None:
            assert entry["line"] == line_of(tmp_path / "wsgi_app.py", "REQUEST")
            requests = request_blocks(path)
            assert 0 <= entry["bytes"] - bytearray_bytes(3_000_017, requests) <= 1024 * requests
            served += requests
    assert served == REQUESTS
    assert find_location(master["top_by_total"], "application", "wsgi_app.py") is None


STARTING = """
import subprocess
import sys

for size in ("1000", "2000"):
    subprocess.run([sys.executable, "child.py", size], check=True)
subprocess.run([sys.executable, "-I", "child.py", "3000"], check=True)
subprocess.run(["true"], check=True)
"""


def test_without_the_option_python_subprocesses_are_named(tmp_path):
    write_script(tmp_path, "child.py", CHILD)
    script = write_script(tmp_path, "starting.py", STARTING)
    result = check(memlyze("run", "-o", "s.mlyze", script, cwd=tmp_path))
    assert result.stdout == "child 1000\nchild 2000\nchild 3000\n"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("memlyze: warning: 3 Python subprocesses not profiled: ")
    for command in (f"'{sys.executable} child.py 1000'", f"'{sys.executable} child.py 2000'",
                    f"'{sys.executable} -I child.py 3000'"):
        assert command in lines[0]
    assert "true" not in lines[0].replace("--follow", "")
    assert "--follow-subprocesses" in lines[0]
    assert [path.name for path in tmp_path.glob("s.mlyze*")] == ["s.mlyze"]


def test_with_the_option_only_unfollowable_interpreters_are_named(tmp_path):
    write_script(tmp_path, "child.py", CHILD)
    script = write_script(tmp_path, "starting.py", STARTING)
    result = check(memlyze("run", "--follow-subprocesses", "-o", "s.mlyze", script,
                           cwd=tmp_path))
    assert result.stdout == "child 1000\nchild 2000\nchild 3000\n"
    assert result.stderr.splitlines() == [
        "memlyze: warning: 1 Python subprocess could not be followed and was not profiled "
        f"(-I ignores PYTHONPATH): '{sys.executable} -I child.py 3000'"]
    children = captures(tmp_path, "s.mlyze")
    assert sorted(stats["command"].split()[-1] for _, stats in children.values()) == [
        "1000", "2000"]


def other_python() -> str:
    """Another CPython version than this one (its memlyze extension is not built for it)."""
    other = "3.12" if sys.version_info[:2] != (3, 12) else "3.11"
    found = subprocess.run(["bash", str(REPO / "scripts" / "interpreters.sh"), other],
                           capture_output=True, text=True, timeout=600)
    assert found.returncode == 0 and found.stdout.strip(), found.stderr
    return found.stdout.strip().splitlines()[0]


def test_another_python_version_is_named_and_still_runs(tmp_path):
    other = other_python()
    script = write_script(tmp_path, "other.py", f"""
        import subprocess
        subprocess.run([{other!r}, "-c", "print('other ran')"], check=True)
        """)
    result = check(memlyze("run", "--follow-subprocesses", "-o", "o.mlyze", script,
                           cwd=tmp_path))
    assert result.stdout == "other ran\n"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "memlyze: warning: 1 Python subprocess could not be followed and was not profiled "
        "(that interpreter cannot load this memlyze"), result.stderr
    assert f"'{other} -c print('other ran')" in lines[0]
    assert [path.name for path in tmp_path.glob("o.mlyze*")] == ["o.mlyze"]
