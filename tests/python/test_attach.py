"""memlyze attach / detach on a real CPython started without memlyze, through
gdb: the allocations are at their lines in the capture, and the process goes
on as if nobody had attached (its output, exit status and threads)."""

from __future__ import annotations

import signal
import subprocess
import sysconfig
import time
from pathlib import Path

import pytest

import memlyze
from attach_target import BLOCK_SIZE, EXIT_STATUS, KEPT_LIMIT, KEPT_SIZE, OUTPUT, Target, wait_for_file
from conftest import (MEMLYZE, assert_one_line_error, check, clean_env,
                      line_of, memlyze as run_memlyze, stats_json)


FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


@pytest.fixture
def target(tmp_path):
    process = Target(tmp_path).start()
    yield process
    process.kill()


def sizes_at(capture: Path, script: Path, marker: str) -> list[int]:
    """The sizes of the allocations made at the marked line of script (the
    bytearrays' buffers: on a free-threaded build their objects too)."""
    line = line_of(script, marker)
    sizes = []
    with memlyze.FileReader(capture) as reader:
        for record in reader.records():
            if record.stack_id and str(record.kind) == "alloc":
                stack = reader.stack(record.stack_id)
                if stack and stack[0].line == line and Path(stack[0].file).name == script.name:
                    sizes.append(record.size)
    return sizes


def assert_blocks_recorded(capture: Path, script: Path, kept: bool = True) -> None:
    """Blocks allocated at the BLOCK line (and the KEPT line, which allocates
    only the first KEPT_LIMIT times) are in the capture, at their sizes."""
    markers = (("BLOCK", BLOCK_SIZE), ("KEPT", KEPT_SIZE)) if kept else (("BLOCK", BLOCK_SIZE),)
    for marker, size in markers:
        # Small ones at those lines are Python objects, recorded on a
        # free-threaded build: the bytearrays' own, the list's growth, and
        # what a garbage collection the allocation set off allocates there.
        sizes = set(sizes_at(capture, script, marker))
        assert size + 1 in sizes, f"{marker}: sizes {sorted(sizes)}"
        others = {other for other in sizes - {size + 1} if other > 1000}
        if FREE_THREADED:
            assert all(other < size for other in others), f"{marker}: sizes {sorted(sizes)}"
        else:
            assert not others, f"{marker}: sizes {sorted(sizes)}"


def test_attach_for_a_duration_records_the_allocations_at_their_lines(target, tmp_path):
    """Attach to a sleeping process, which then allocates; record 2 s; the
    process goes on with its threads as before and exits with its status."""
    threads_before = target.thread_count()
    capture = tmp_path / "attached.mlyze"
    started = time.monotonic()
    attach = subprocess.Popen([*MEMLYZE, "attach", str(target.pid), "-o", str(capture),
                               "--duration", "2"], cwd=tmp_path, env=clean_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_file(capture)  # the tracker runs: the allocating starts now
    target.go()
    stdout, stderr = attach.communicate(timeout=180)
    elapsed = time.monotonic() - started
    assert attach.returncode == 0, stderr
    assert stdout == ""
    assert stderr == (f"memlyze: recorded process {target.pid} for 2 s into {capture} "
                      f"(then: memlyze summary {capture})\n")
    assert elapsed >= 2
    assert target.wait_for_threads(threads_before) == threads_before
    status, output = target.finish()
    assert (status, output) == (EXIT_STATUS, OUTPUT)

    assert_blocks_recorded(capture, target.script)
    stats = stats_json(capture, tmp_path)
    assert 1.9 <= stats["duration_s"] < 60
    assert stats["pid"] == target.pid
    # The kept blocks were alive when the recording stopped.
    kept = [entry for entry in stats["top_leaks"]
            if entry["line"] == line_of(target.script, "KEPT")]
    assert kept, stats["top_leaks"]
    # (Free-threaded builds add the bytearrays' objects and the list's array.)
    assert 1 <= kept[0]["bytes"] // (KEPT_SIZE + 1) <= KEPT_LIMIT


def test_output_and_status_without_attach_are_the_same(tmp_path):
    """The baseline the attached runs are held to."""
    process = Target(tmp_path).start()
    try:
        process.go()
        assert process.finish() == (EXIT_STATUS, OUTPUT)
    finally:
        process.kill()


def test_detach_then_attach_again_then_the_process_exits_attached(target, tmp_path):
    threads_before = target.thread_count()
    first, second = tmp_path / "first.mlyze", tmp_path / "second.mlyze"
    attached = check(run_memlyze("attach", target.pid, "-o", first, cwd=tmp_path))
    assert attached.stderr == (f"memlyze: recording process {target.pid} into {first}; "
                               f"stop with: memlyze detach {target.pid}\n")
    again = run_memlyze("attach", target.pid, "-o", tmp_path / "twice.mlyze", cwd=tmp_path)
    assert_one_line_error(again)
    assert f"memlyze attach is already recording process {target.pid} into {first}" in again.stderr
    assert not (tmp_path / "twice.mlyze").exists()
    target.go()
    time.sleep(0.3)  # some allocating while attached
    detached = check(run_memlyze("detach", target.pid, cwd=tmp_path))
    assert detached.stderr.startswith(f"memlyze: stopped recording process {target.pid}; "
                                      f"the capture is {first}")
    assert target.wait_for_threads(threads_before) == threads_before
    assert_blocks_recorded(first, target.script)
    assert not stats_json(first, tmp_path).get("truncated")

    twice = run_memlyze("detach", target.pid, cwd=tmp_path)
    assert_one_line_error(twice)
    assert f"no recording started by memlyze attach runs in process {target.pid}" in twice.stderr

    # A second attach after detach starts afresh; the process then exits
    # while recording, which completes the capture.
    check(run_memlyze("attach", target.pid, "-o", second, cwd=tmp_path))
    time.sleep(0.3)
    status, output = target.finish()
    assert (status, output) == (EXIT_STATUS, OUTPUT)
    assert_blocks_recorded(second, target.script, kept=False)
    with memlyze.FileReader(second) as reader:
        assert not reader.truncated


def test_recording_options_reach_the_tracker(target, tmp_path):
    """--sample-interval and --python-allocators are the tracker's."""
    capture = tmp_path / "sampled.mlyze"
    target.go()
    check(run_memlyze("attach", target.pid, "-o", capture, "--sample-interval", "64KiB",
                      "--python-allocators", "--duration", "1", cwd=tmp_path))
    assert target.finish() == (EXIT_STATUS, OUTPUT)
    stats = stats_json(capture, tmp_path)
    assert stats["sampled"] and stats["sample_interval"] == 64 * 1024
    assert stats["allocators"].get("pymalloc", {}).get("count", 0) > 0


def test_existing_capture_needs_force(target, tmp_path):
    capture = tmp_path / "exists.mlyze"
    capture.write_bytes(b"mine")
    refused = run_memlyze("attach", target.pid, "-o", capture, cwd=tmp_path)
    assert_one_line_error(refused)
    assert f"{capture} already exists (use -f/--force to overwrite it)" in refused.stderr
    assert capture.read_bytes() == b"mine"
    check(run_memlyze("attach", target.pid, "-o", capture, "-f", "--duration", "0.5",
                      cwd=tmp_path))
    assert capture.read_bytes()[:4] == b"MLYZ"


def test_a_terminating_signal_completes_the_capture_and_kills_as_before(target, tmp_path):
    """An attached process killed by SIGTERM dies by it, and its capture is
    complete (the tracker's exit paths, as for memlyze run)."""
    capture = tmp_path / "terminated.mlyze"
    check(run_memlyze("attach", target.pid, "-o", capture, cwd=tmp_path))
    target.go()
    time.sleep(0.3)
    target.process.send_signal(signal.SIGTERM)
    assert target.process.wait(timeout=120) == -signal.SIGTERM
    with memlyze.FileReader(capture) as reader:
        assert not reader.truncated
    assert_blocks_recorded(capture, target.script)
