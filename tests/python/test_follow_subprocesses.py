"""--follow-subprocesses: every Python process started below the profiled one
records into <output>.<pid> (parent pid and command in its header), and the
Python subprocesses a recording misses are named on stderr at its end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import (BYTEARRAY_ALLOCATIONS, FREE_THREADED, MEMLYZE, REPO, bytearray_bytes, check, clean_env, find_location, line_of,
                      memlyze, stats_json, write_script)
from test_follow_fork import REQUESTS, WSGI_APP, free_port, request_blocks, wait_until_serving

CHILD = """
import sys

size = int(sys.argv[1])  # apart: on free-threaded builds the int is recorded too
block = bytearray(size)  # CHILD
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
            # free-threaded builds also record the line's small objects (mimalloc)
            slack = 1024 if FREE_THREADED else 0
            assert entry["bytes"] % bytearray_bytes(3_000_000) <= slack
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
    notes = tmp_path / "tmp"
    notes.mkdir()
    result = check(memlyze("run", "-o", "s.mlyze", script, cwd=tmp_path,
                           env=clean_env(TMPDIR=str(notes))))
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
    assert list(notes.iterdir()) == []  # the notes file was read and removed


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


# --- reports over several captures ------------------------------------------

@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """One --follow-subprocesses run of RUNNING: (directory, top, child capture, child script)."""
    directory = tmp_path_factory.mktemp("family")
    child = write_script(directory, "child.py", CHILD)
    script = write_script(directory, "running.py", RUNNING)
    check(memlyze("run", "--follow-subprocesses", "-o", "fam.mlyze", script, cwd=directory))
    (child_capture,) = directory.glob("fam.mlyze.*")
    return directory, directory / "fam.mlyze", child_capture, child


def test_summary_of_several_captures_shows_the_process_tree(family):
    directory, top, child_capture, child = family
    top_stats = stats_json(top, directory)
    child_stats = stats_json(child_capture, directory)
    result = check(memlyze("summary", top, child_capture, cwd=directory))
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Process tree: 2 captures")
    rows = [line.split() for line in lines[3:5]]
    assert rows[0][:2] == [str(top_stats["pid"]), "-"] and rows[0][6] == str(top)
    assert rows[1][:2] == [str(child_stats["pid"]), str(top_stats["pid"])]
    assert rows[1][6] == str(child_capture)
    # one section per capture follows
    assert f"{top}: {top_stats['command']}" in lines
    assert f"{child_capture}: {child_stats['command']}" in lines

    merged = check(memlyze("summary", "--merge", top, child_capture, cwd=directory)).stdout
    assert f"{child_capture}: " not in merged
    child_line = next(line for line in merged.splitlines() if f"child.py:{line_of(child, 'CHILD')}" in line)
    assert child_line.split()[:2] == ["3.8", "MiB"]  # 4,000,001 bytes


def test_stats_json_of_several_captures_links_parent_and_child(family):
    directory, top, child_capture, _ = family
    result = check(memlyze("stats", "--json", "--merge", top, child_capture, cwd=directory))
    document = json.loads(result.stdout)
    parent, child = document["processes"]
    assert (parent["path"], parent["parent_path"], parent["depth"]) == (str(top), None, 0)
    assert (child["path"], child["parent_path"], child["depth"]) == (str(child_capture),
                                                                      str(top), 1)
    captures_ = document["captures"]
    assert child["peak_bytes"] == captures_[str(child_capture)]["peak_bytes"]
    assert document["merged"]["total_bytes"] == sum(
        summary["total_bytes"] for summary in captures_.values())


def test_merged_flame_graph_has_one_subtree_per_process(family):
    from memlyze.reports.flame_data import build_flame_data
    from memlyze.reports.flame_merge import build_merged_flame_data

    directory, top, child_capture, child = family
    singles = {path: build_flame_data(path, progress=None) for path in (top, child_capture)}
    data = build_merged_flame_data([child_capture, top], progress=None)
    nodes, strings = data["nodes"], data["strings"]
    roots = [index for index, parent in enumerate(nodes["parent"]) if parent == 0]
    labels = [strings[nodes["function"][index]] for index in roots]
    # process-tree order: the top process first, whatever the order given
    assert labels == [f"pid {singles[top]['meta']['pid']}: {singles[top]['meta']['command']}",
                      f"pid {singles[child_capture]['meta']['pid']}: "
                      f"{singles[child_capture]['meta']['command']}"]
    for index, path in zip(roots, (top, child_capture)):
        assert nodes["bytes"][index] == singles[path]["nodes"]["bytes"][0]
        assert nodes["count"][index] == singles[path]["nodes"]["count"][0]
    assert nodes["bytes"][0] == sum(singles[path]["nodes"]["bytes"][0] for path in singles)
    under_child = [index for index, parent in enumerate(nodes["parent"]) if parent == roots[1]]
    lines = {(strings[nodes["function"][index]], nodes["line"][index]): nodes["bytes"][index]
             for index in under_child}
    assert lines[("<module>", line_of(child, "CHILD"))] == bytearray_bytes(4_000_000)
    # the summed heap reaches at least the larger process's own peak
    assert data["timeline"]["peak_bytes"] >= max(
        single["timeline"]["peak_bytes"] for single in singles.values())

    page = directory / "merged.html"
    result = check(memlyze("flamegraph", "--merge", "-o", page, top, child_capture,
                           cwd=directory))
    assert page.stat().st_size > 0 and "Wrote" in result.stdout


def test_export_merge_collapsed_prefixes_each_process(family):
    directory, top, child_capture, child = family
    child_pid = stats_json(child_capture, directory)["pid"]
    result = check(memlyze("export", "--merge", "--format", "collapsed", top, child_capture,
                           cwd=directory))
    prefix = f"pid {child_pid}: "
    ours = [line for line in result.stdout.splitlines() if line.startswith(prefix)]
    block = [line for line in ours if f"child.py:{line_of(child, 'CHILD')})" in line]
    assert len(block) == 1 and block[0].endswith(f" {bytearray_bytes(4_000_000)}")
    single = check(memlyze("export", "--format", "collapsed", child_capture, cwd=directory))
    assert sorted(line.split(";", 1)[1] for line in ours) == sorted(single.stdout.splitlines())
    refused = memlyze("export", "--format", "collapsed", top, child_capture, cwd=directory)
    assert refused.returncode == 2 and "--merge" in refused.stderr


TRACKING = """
import os
import subprocess
import sys

import memlyze

with memlyze.Tracker("api.mlyze", follow_subprocesses=True):
    subprocess.run([sys.executable, "child.py", "5000000"], check=True)
print("after", "MEMLYZE_RECORD" in os.environ, os.environ.get("PYTHONPATH"))
subprocess.run([sys.executable, "child.py", "1000"], check=True)
"""


def test_tracker_api_follows_subprocesses_until_stop(tmp_path):
    child = write_script(tmp_path, "child.py", CHILD)
    script = write_script(tmp_path, "tracking.py", TRACKING)
    env = clean_env()
    env.pop("PYTHONPATH", None)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    check(result)
    # the environment is the program's again once the tracker stopped
    assert result.stdout == "child 5000000\nafter False None\nchild 1000\n"
    assert result.stderr == ""
    top = stats_json(tmp_path / "api.mlyze", tmp_path)
    children = captures(tmp_path, "api.mlyze")
    assert len(children) == 1  # not the child started after stop
    (pid, (path, stats)), = children.items()
    assert stats["parent_pid"] == top["pid"]
    entry = find_location(stats["top_by_total"], "<module>", "child.py")
    assert (entry["line"], entry["bytes"]) == (line_of(child, "CHILD"), bytearray_bytes(5_000_000))


XDIST_TESTS = """
def test_small():
    block = bytearray(2_000_000)  # SMALL
    assert len(block) == 2_000_000


def test_large():
    block = bytearray(3_000_000)  # LARGE
    assert len(block) == 3_000_000
"""


def test_pytest_xdist_workers_are_followed(tmp_path):
    tests = write_script(tmp_path, "test_blocks.py", XDIST_TESTS)
    command = ["record", "--follow-subprocesses", "-o", "x.mlyze", sys.executable, "-m",
               "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", tests.name]
    result = check(memlyze(*command, cwd=tmp_path))
    assert "2 passed" in result.stdout and result.stderr == ""
    top = stats_json(tmp_path / "x.mlyze", tmp_path)
    workers = captures(tmp_path, "x.mlyze")
    assert len(workers) == 2
    found = {}
    for pid, (path, stats) in workers.items():
        assert stats["parent_pid"] == top["pid"]
        for function, marker, size in (("test_small", "SMALL", 2_000_000),
                                       ("test_large", "LARGE", 3_000_000)):
            entry = find_location(stats["top_by_total"], function, "test_blocks.py")
            if entry is not None:
                assert (entry["line"], entry["bytes"]) == (line_of(tests, marker),
                                                           bytearray_bytes(size))
                found[function] = pid
    assert set(found) == {"test_small", "test_large"}  # each in the worker that ran it
    assert find_location(top["top_by_total"], "test_small", "test_blocks.py") is None
