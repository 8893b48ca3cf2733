"""--ring, the flight recorder: only the last window is kept in memory, and
dumps of it (complete captures) are written on SIGUSR2 (`memlyze dump PID`),
on a fatal signal, when RSS crosses --ring-dump-at and at exit. Each dump
holds the window's allocations at their lines, and the heap live at the
window's start, but nothing of what happened before the window."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import (MEMLYZE, assert_one_line_error, check, clean_env, comprehension,
                      find_location, line_of, stats_json, write_script)
from conftest import memlyze as run_memlyze

# Known allocations at known lines. The churn (60,000 bytes(1000), two
# events each) pushes BEFORE and EARLY out of a 20,000-event window; BEFORE
# stays alive (the window's base), EARLY was freed before the window.
WORKLOAD = """
import os, signal, sys, time

def before():
    return [bytearray(100_000) for _ in range(50)]  # BEFORE

def early():
    for _ in range(20):
        scratch = bytearray(200_000)  # EARLY

def churn(count):
    for _ in range(count):
        bytes(1000)  # CHURN

def window():
    return [bytearray(300_000) for _ in range(10)]  # WINDOW

if sys.argv[1:] == ["handler"]:
    signal.signal(signal.SIGUSR2, lambda number, frame: print("handler ran", flush=True))
if sys.argv[1:] == ["ignore"]:
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
kept = before()
early()
churn(60_000)
recent = window()
print("ready", os.getpid(), flush=True)
sys.stdin.readline()

def after():
    return [bytearray(400_000) for _ in range(3)]  # AFTER

later = after()
if sys.argv[1:] == ["ignore"]:
    print("ignored" if signal.getsignal(signal.SIGUSR2) is signal.SIG_IGN else "not ignored")
print("done", flush=True)
"""

WINDOW_EVENTS = "20000"


def wait_for_complete_capture(path: Path, cwd, timeout=60.0) -> dict:
    """Polls until path is a complete capture; returns its stats."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            result = run_memlyze("stats", "--json", path, cwd=cwd)
            if result.returncode == 0:
                import json

                stats = json.loads(result.stdout)
                if not stats.get("truncated"):
                    return stats
        time.sleep(0.1)
    raise AssertionError(f"no complete capture at {path} after {timeout} s")


def start_workload(tmp_path, *args, ring=WINDOW_EVENTS, extra=()):
    script = write_script(tmp_path, "workload.py", WORKLOAD)
    capture = tmp_path / "ring.mlyze"
    process = subprocess.Popen(
        [*MEMLYZE, "run", "--ring", ring, *extra, "-o", capture, script, *args],
        cwd=tmp_path, env=clean_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("ready"):
        process.kill()
        raise AssertionError((line, process.communicate(timeout=60)))
    return script, capture, process, int(line.split()[1])


def finish(process) -> tuple[str, str]:
    out, err = process.communicate("go\n", timeout=120)
    assert process.returncode == 0, err
    return out, err


def blocks_of(entry, size: int) -> int:
    """How many blocks of size (a bytearray's buffer: size + 1 bytes) an
    entry holds: its bytes over size, since on a free-threaded build the
    line also records each bytearray object and the list's growth (small
    next to size), which its count would include."""
    return entry["bytes"] // size


def location(entries, script, function, marker):
    entry = find_location(entries, function, script.name)
    if entry is not None:
        assert entry["line"] == line_of(script, marker)
    return entry


def test_sigusr2_dump_holds_the_window_and_the_live_heap(tmp_path):
    script, capture, process, pid = start_workload(tmp_path)
    try:
        result = check(run_memlyze("dump", pid, cwd=tmp_path))
        assert f"asked process {pid} to write its ring dump into {capture}" in result.stdout
        stats = wait_for_complete_capture(capture, tmp_path)
    finally:
        out, _ = finish(process)
    assert out.splitlines()[-1] == "done"  # SIGUSR2 did not end the program
    ring = stats["ring"]
    assert ring["reason"] == "request" and ring["dump_number"] == 1
    assert ring["evicted_events"] > 90_000
    # the window's allocations, at their line
    window = location(stats["top_by_total"], script, comprehension("window"), "WINDOW")
    assert window is not None and blocks_of(window, 300_000) == 10
    assert 3_000_000 <= window["bytes"] <= 3_010_000
    # the heap live at the window's start: BEFORE's 50 blocks, held at the dump
    held = location(stats["top_leaks"], script, comprehension("before"), "BEFORE")
    assert held is not None and blocks_of(held, 100_000) == 50
    assert 5_000_000 <= held["bytes"] <= 5_010_000
    assert ring["base_allocations"] >= 50
    # nothing from before the window: EARLY was made and freed there
    every = stats["top_by_total"] + stats["top_by_count"]
    assert find_location(every, "early", script.name) is None
    churn = find_location(stats["top_by_count"], "churn", script.name)
    assert churn is None or churn["count"] <= int(WINDOW_EVENTS) + 4096
    assert stats["total_allocations"] < 20_000
    # the exit dump comes next, without overwriting the first
    final = wait_for_complete_capture(Path(f"{capture}.1"), tmp_path)
    assert final["ring"]["reason"] == "exit" and final["ring"]["dump_number"] == 2
    assert blocks_of(location(final["top_leaks"], script, comprehension("after"), "AFTER"),
                     400_000) == 3
    assert location(stats["top_by_total"], script, comprehension("after"), "AFTER") is None


@pytest.mark.parametrize("disposition, said", [("handler", "handler ran"),
                                                 ("ignore", "ignored")])
def test_the_programs_own_sigusr2_disposition_follows_the_dump(tmp_path, disposition, said):
    script, capture, process, pid = start_workload(tmp_path, disposition)
    try:
        check(run_memlyze("dump", pid, cwd=tmp_path))
        stats = wait_for_complete_capture(capture, tmp_path)
    finally:
        out, _ = finish(process)
    lines = out.splitlines()
    assert said in lines and lines[-1] == "done"
    if disposition == "ignore":
        assert lines.count("ignored") == 1  # getsignal gave the program's own
    assert location(stats["top_by_total"], script, comprehension("window"), "WINDOW")


def test_a_sigsegv_leaves_a_readable_dump_and_the_same_death(tmp_path):
    script = write_script(tmp_path, "crash.py", """
        import ctypes

        def before():
            for _ in range(20):
                scratch = bytearray(200_000)  # EARLY

        def churn(count):
            for _ in range(count):
                bytes(1000)  # CHURN

        def window():
            return [bytearray(300_000) for _ in range(10)]  # WINDOW

        before()
        churn(60_000)
        recent = window()
        ctypes.string_at(0)  # SIGSEGV
        """)
    capture = tmp_path / "crash.mlyze"
    result = run_memlyze("run", "--ring", WINDOW_EVENTS, "-o", capture, script, cwd=tmp_path)
    plain = subprocess.run([sys.executable, script], cwd=tmp_path, env=clean_env())
    assert plain.returncode == -signal.SIGSEGV
    assert result.returncode == -signal.SIGSEGV, result.stderr
    stats = stats_json(capture, tmp_path)
    assert not stats["truncated"]
    assert stats["ring"]["reason"] == "signal" and stats["ring"]["signal"] == signal.SIGSEGV
    window = location(stats["top_leaks"], script, comprehension("window"), "WINDOW")
    assert window is not None and blocks_of(window, 300_000) == 10
    assert find_location(stats["top_by_total"], "before", script.name) is None
    summary = check(run_memlyze("summary", capture, cwd=tmp_path)).stdout
    assert "Ring dump 1 (--ring), written on SIGSEGV" in summary
    leaks = check(run_memlyze("table", "--leaks", capture, cwd=tmp_path)).stdout
    assert f"crash.py:{line_of(script, 'WINDOW')}" in leaks
    page = tmp_path / "crash.html"
    flame = check(run_memlyze("flamegraph", "-o", page, capture, cwd=tmp_path)).stdout
    assert "Ring dump 1 (--ring)" in flame and page.stat().st_size > 0


GROW = """
import os, sys, time

def grow(blocks):
    held = []
    for _ in range(blocks):
        held.append(bytearray(8 * 1024 * 1024))  # GROW
        time.sleep(0.02)
    return held

def small():
    return [bytearray(1000) for _ in range(100)]  # SMALL

kept = small()
held = grow(int(sys.argv[1]))
print("grown", flush=True)
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline and not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
"""


def test_crossing_the_rss_threshold_dumps_once(tmp_path):
    script = write_script(tmp_path, "grow.py", GROW)
    capture = tmp_path / "grow.mlyze"
    earlier = Path(f"{capture}.1")
    earlier.write_bytes(b"an earlier run's dump")  # never replaced: skipped
    # 30 blocks of 8 MiB: RSS crosses 160 MiB at about the 15th; the program
    # waits (up to 60 s) until the dump is on disk
    result = check(run_memlyze("run", "--ring", "60s", "--ring-dump-at", "160MiB",
                               "-o", capture, script, "30", "60", capture, cwd=tmp_path))
    assert result.stdout == "grown\n"
    stats = stats_json(capture, tmp_path)
    assert stats["ring"]["reason"] == "rss"
    assert stats["ring"]["dump_at_rss"] == 160 * 1024**2
    grown = location(stats["top_leaks"], script, "grow", "GROW")
    # every block made until RSS reached 160 MiB, not the ones after
    assert grown is not None and 10 <= blocks_of(grown, 8 * 1024**2) < 30
    final = stats_json(Path(f"{capture}.2"), tmp_path)
    assert final["ring"]["reason"] == "exit"
    assert blocks_of(location(final["top_leaks"], script, "grow", "GROW"), 8 * 1024**2) == 30
    assert not Path(f"{capture}.3").exists()  # once per crossing
    assert earlier.read_bytes() == b"an earlier run's dump"


def make_memory_cgroup(limit_bytes: int | None):
    """A new cgroup v1 memory cgroup (we are root in CI), or None when this
    machine has no writable memory controller."""
    root = Path("/sys/fs/cgroup/memory")
    group = root / f"memlyze-ring-test-{os.getpid()}-{time.monotonic_ns()}"
    try:
        group.mkdir()
    except OSError:
        return None
    if limit_bytes is not None:
        (group / "memory.limit_in_bytes").write_text(str(limit_bytes))
        swap_limit = group / "memory.memsw.limit_in_bytes"
        if swap_limit.exists():
            swap_limit.write_text(str(limit_bytes))
    return group


def remove_cgroup(group: Path) -> None:
    for _ in range(100):
        try:
            group.rmdir()
            return
        except OSError:
            time.sleep(0.05)  # the last task is leaving


def run_in_cgroup(group: Path, command, cwd, timeout=120):
    def join():
        (group / "cgroup.procs").write_text(str(os.getpid()))

    return subprocess.run(command, cwd=cwd, env=clean_env(), preexec_fn=join,
                          capture_output=True, text=True, timeout=timeout)


def test_a_share_of_the_cgroup_limit_dumps_before_the_oom_killer(tmp_path):
    group = make_memory_cgroup(320 * 1024**2)
    if group is None:
        pytest.skip("no writable cgroup v1 memory controller at /sys/fs/cgroup/memory")
    script = write_script(tmp_path, "grow.py", GROW)
    capture = tmp_path / "oom.mlyze"
    try:
        # 100 blocks of 8 MiB do not fit in 320 MiB: the OOM killer ends it
        result = run_in_cgroup(group, [*MEMLYZE, "run", "--ring", "60s", "--ring-dump-at", "50%",
                                       "-o", capture, script, "100", "0", "/nonexistent"],
                               cwd=tmp_path)
    finally:
        remove_cgroup(group)
    assert result.returncode == -signal.SIGKILL, result.stderr
    stats = stats_json(capture, tmp_path)
    assert stats["ring"]["reason"] == "rss"
    assert stats["ring"]["dump_at_rss"] == 160 * 1024**2
    grown = location(stats["top_leaks"], script, "grow", "GROW")
    assert grown is not None and 10 <= blocks_of(grown, 8 * 1024**2) < 40


def test_a_percentage_without_a_cgroup_limit_is_refused(tmp_path):
    group = make_memory_cgroup(None)
    if group is None:
        pytest.skip("no writable cgroup v1 memory controller at /sys/fs/cgroup/memory")
    script = write_script(tmp_path, "quiet.py", "print('ran')\n")
    try:
        result = run_in_cgroup(group, [*MEMLYZE, "run", "--ring", "10s", "--ring-dump-at", "80%",
                                       "-o", tmp_path / "none.mlyze", script], cwd=tmp_path)
    finally:
        remove_cgroup(group)
    assert_one_line_error(result)
    assert "sets no memory limit" in result.stderr
    assert result.stdout == "" and not (tmp_path / "none.mlyze").exists()


def test_cgroup_limits_are_read_along_the_hierarchy(tmp_path):
    from memlyze.ring_options import cgroup_memory_limit

    proc = tmp_path / "cgroup"
    memory = tmp_path / "fs" / "memory" / "outer" / "inner"
    memory.mkdir(parents=True)
    (memory / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (memory.parent / "memory.limit_in_bytes").write_text("1073741824\n")
    (tmp_path / "fs" / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    proc.write_text("4:memory:/outer/inner\n0::/\n")
    assert cgroup_memory_limit(str(proc), str(tmp_path / "fs")) == 1024**3
    # cgroup v2: memory.max, "max" meaning none
    unified = tmp_path / "v2" / "service"
    unified.mkdir(parents=True)
    (unified / "memory.max").write_text("max\n")
    proc.write_text("0::/service\n")
    assert cgroup_memory_limit(str(proc), str(tmp_path / "v2")) is None
    (unified / "memory.max").write_text("536870912\n")
    assert cgroup_memory_limit(str(proc), str(tmp_path / "v2")) == 512 * 1024**2


CHURN = """
import sys, memlyze

def churn(count):
    for _ in range(count):
        bytes(1000)  # CHURN

samples = []
for _ in range(16):
    churn(250_000)
    samples.append(memlyze.rss())
print(" ".join(map(str, samples)))
"""


def test_a_long_churn_keeps_the_trackers_memory_flat(tmp_path):
    script = write_script(tmp_path, "churn.py", CHURN)
    capture = tmp_path / "churn.mlyze"
    # 8 million events, a time window far longer than the run: the 8 MiB cap binds
    result = check(run_memlyze("run", "--ring", "1h", "--ring-max-memory", "8MiB",
                               "-o", capture, script, cwd=tmp_path))
    samples = [int(value) for value in result.stdout.split()]
    # The ring is full after the first round (500,000 events; 8 MiB hold
    # 262,144). Kept whole, the 5.5 million events between the medians below
    # would add 176 MB of ring. Bounded, RSS moves only with the writer's
    # backlog, whose high mark stays in RSS: at most 256 queued and 64 spare
    # blocks of 1024 events (13 MB) and one round's ordering window (up to
    # 512 Ki staged events of 48 bytes, 25 MB).
    early, late = sorted(samples[2:5])[1], sorted(samples[13:16])[1]
    assert late - early < 48 * 1024**2, samples
    stats = stats_json(capture, tmp_path)
    assert stats["ring"]["evicted_events"] > 7_000_000
    assert stats["tracker_memory_bytes"] < 100 * 1024**2
    churn = find_location(stats["top_by_count"], "churn", script.name)
    assert churn is not None and churn["count"] <= 8 * 1024**2 // 32 // 2 + 4096


def test_tracker_dump_in_process(tmp_path):
    script = write_script(tmp_path, "api.py", """
        import sys, time, memlyze

        with memlyze.Tracker(sys.argv[1], ring=5000) as tracker:
            block = bytearray(1_000_000)  # BLOCK
            tracker.dump()
            path = sys.argv[1]
            deadline = time.monotonic() + 60
            import os
            while not os.path.exists(path) and time.monotonic() < deadline:
                time.sleep(0.01)
        print("ok")
        """)
    capture = tmp_path / "api.mlyze"
    result = subprocess.run([sys.executable, script, capture], cwd=tmp_path, env=clean_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr
    first = wait_for_complete_capture(capture, tmp_path)
    assert first["ring"]["reason"] == "request"
    assert blocks_of(find_location(first["top_leaks"], "<module>", script.name), 1_000_000) == 1
    assert stats_json(Path(f"{capture}.1"), tmp_path)["ring"]["reason"] == "exit"


def test_dump_errors(tmp_path):
    plain = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             env=clean_env())
    try:
        result = run_memlyze("dump", plain.pid, cwd=tmp_path)
        assert_one_line_error(result)
        assert "is not recording with memlyze --ring" in result.stderr
        assert plain.poll() is None  # no signal reached it
    finally:
        plain.kill()
        plain.wait()
    result = run_memlyze("dump", plain.pid, cwd=tmp_path)
    assert_one_line_error(result)
    assert f"no process {plain.pid}" in result.stderr
    result = run_memlyze("dump", "abc", cwd=tmp_path)
    assert_one_line_error(result)
    assert "'abc' is not a process id" in result.stderr


@pytest.mark.parametrize("arguments, message", [
    (["--ring", "30"], None),  # a count: fine
    (["--ring", "ten"], "--ring expects SECONDS"),
    (["--ring", "0s"], "the window must be from 1 ms"),
    (["--ring", "10000000", "--ring-max-memory", "8MiB"], "more than --ring-max-memory"),
    (["--ring-dump-at", "1GiB"], "need --ring"),
    (["--ring", "10s", "--aggregate"], "cannot be combined with --aggregate"),
    (["--ring", "10s", "--follow-fork"], "cannot be combined with --follow-fork"),
    (["--ring", "10s", "--ring-dump-at", "150%"], "at most 100"),
])
def test_ring_option_errors(tmp_path, arguments, message):
    script = write_script(tmp_path, "quiet.py", "print('ran')\n")
    result = run_memlyze("run", *arguments, "-o", tmp_path / "out.mlyze", script, cwd=tmp_path)
    if message is None:
        check(result)
        assert result.stdout == "ran\n"
        return
    assert_one_line_error(result)
    assert message in result.stderr
    assert result.stdout == ""
