"""Forking a profiled process: children stop recording, the parent's capture is right."""

from pathlib import Path

from conftest import assert_close, check, line_of, memlyze, stats_json, write_script

FORKING = """
import multiprocessing
import os
import sys


def child_work(size):
    return len(bytearray(size))


def hold():
    blocks = []
    for _ in range(100):
        blocks.append(bytearray(1_000_000))  # HOLD
    return blocks


if __name__ == "__main__":
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        print("pool", sum(pool.map(child_work, [1_000_000] * 8)))
    process = context.Process(target=child_work, args=(5_000_000,))
    process.start()
    process.join()
    print("process", process.exitcode)

    pid = os.fork()
    if pid == 0:
        junk = [bytearray(1_000_000) for _ in range(10)]
        os._exit(0)
    print("os._exit child", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))

    pid = os.fork()
    if pid == 0:
        junk = bytearray(5_000_000)
        sys.exit(0)  # the child runs atexit handlers: they must leave the capture alone
    print("sys.exit child", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))

    blocks = hold()
    print("parent holds", len(blocks))
"""


def test_fork_children_and_parent_capture(tmp_path):
    script = write_script(tmp_path, "forking.py", FORKING)
    result = check(memlyze("run", "-o", "fork.mlyze", script, cwd=tmp_path, timeout=120))
    assert result.stdout.splitlines() == [
        "pool 8000000",
        "process 0",
        "os._exit child 0",
        "sys.exit child 0",
        "parent holds 100",
    ]
    assert "Traceback" not in result.stderr
    stats_result = check(memlyze("stats", "--json", "fork.mlyze", cwd=tmp_path))
    assert "truncated" not in stats_result.stderr
    stats = stats_json(tmp_path / "fork.mlyze", tmp_path)
    assert stats["truncated"] is False
    top = stats["top_by_peak"][0]
    assert (top["function"], Path(top["file"]).name, top["line"]) == (
        "hold", "forking.py", line_of(script, "HOLD"))
    assert_close(top["bytes"], 100 * 1_000_001, 0.01)
    # Only the parent's own allocations: the children's 5 MB blocks are not here.
    assert all(entry["function"] != "child_work" for entry in stats["top_by_total"])
    assert not list((tmp_path).glob("fork.mlyze.*"))
