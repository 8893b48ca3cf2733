"""A program that closes every descriptor (os.closerange, as daemons do) and
opens a file of its own, which gets the capture's old number, keeps its file
byte for byte: memlyze never writes through a descriptor that is no longer
the capture's, and records on through the capture opened again by its path
(issue 13, item 1)."""

import json
import sys

import pytest

from conftest import check, clean_env, memlyze, python, write_script

PROGRAM_BYTES = b"0123456789abcdef\n"  # the 17 bytes the program writes

# Allocates, closes descriptors 3 to CLOSE_TO (an expression), opens
# victim.txt, writes its 17 bytes, then allocates about 20 MB in many blocks
# over about 0.3 s so that the writer thread writes chunks meanwhile.
SCRIPT = """
    import os, resource, sys, time
    before = [bytearray(1000) for _ in range(2000)]
    if len(sys.argv) > 1:
        os.unlink(sys.argv[1])  # the capture is gone when memlyze must reopen it
    os.closerange(3, CLOSE_TO)
    with open("victim.txt", "wb") as victim:
        victim.write(PROGRAM_BYTES)
        victim.flush()
        after = []
        started = time.monotonic()
        while len(after) < 2000 or time.monotonic() - started < 0.3:
            after.append(bytearray(10_000))  # 20 MB in 10 kB blocks
            if len(after) % 100 == 0:
                time.sleep(0.015)
    print("allocated", len(before), "blocks before and enough after")
"""

CLOSE_TO = {
    "closerange_1024": "1024",
    "closerange_soft_limit": "resource.getrlimit(resource.RLIMIT_NOFILE)[0]",
}

CONTINUES = "memlyze: the capture's file descriptor was closed by the program; recording continues through "
STOPPED = "memlyze: the capture's file descriptor was closed by the program; recording stopped"


def program(tmp_path, close_to):
    source = SCRIPT.replace("CLOSE_TO", CLOSE_TO[close_to])
    source = source.replace("PROGRAM_BYTES", repr(PROGRAM_BYTES))
    return write_script(tmp_path, "closer.py", source)


def record(command, script, tmp_path, *arguments):
    target = [sys.executable, script] if command == "record" else [script]
    return memlyze(command, "-o", "capture.mlyze", *target, *arguments, cwd=tmp_path)


@pytest.mark.parametrize("command", ["run", "record"])
@pytest.mark.parametrize("close_to", sorted(CLOSE_TO))
def test_program_file_is_untouched_and_recording_goes_on(tmp_path, command, close_to):
    script = program(tmp_path, close_to)
    expected = check(python(script, cwd=tmp_path))
    (tmp_path / "victim.txt").unlink()
    result = check(record(command, script, tmp_path))
    assert (tmp_path / "victim.txt").read_bytes() == PROGRAM_BYTES
    assert result.stdout == expected.stdout
    if close_to == "closerange_soft_limit":  # the kept high number was closed too
        assert CONTINUES + str(tmp_path / "capture.mlyze") in result.stderr, result.stderr
    assert "error" not in result.stderr, result.stderr
    stats = json.loads(check(memlyze("stats", "--json", "capture.mlyze", cwd=tmp_path)).stdout)
    assert not stats["truncated"], stats.get("truncation_note")
    # the 20 MB allocated after the descriptors were closed are in the capture
    assert stats["total_bytes"] >= 20_000_000 + 2_000_000, stats["total_bytes"]


@pytest.mark.parametrize("command", ["run", "record"])
def test_recording_stops_when_the_capture_is_gone(tmp_path, command):
    script = program(tmp_path, "closerange_soft_limit")
    result = check(record(command, script, tmp_path, str(tmp_path / "capture.mlyze")))
    assert (tmp_path / "victim.txt").read_bytes() == PROGRAM_BYTES
    assert result.stdout.startswith("allocated 2000 blocks")
    assert STOPPED in result.stderr.splitlines(), result.stderr
    assert not (tmp_path / "capture.mlyze").exists()


# A --follow-fork child closes every descriptor (its own capture's and the
# one inherited from the parent), opens its file and allocates; the parent
# allocates after it has gone.
FORKING = """
    import os, resource, sys, time
    pid = os.fork()
    if pid == 0:
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        with open("victim.txt", "wb") as victim:
            victim.write(PROGRAM_BYTES)
            victim.flush()
            after = [bytearray(10_000) for _ in range(2000)]
            time.sleep(0.3)
            os._exit(0)
    os.waitpid(pid, 0)
    blocks = [bytearray(10_000) for _ in range(1000)]
    print("child", pid)
"""


def test_follow_fork_child_file_is_untouched(tmp_path):
    source = FORKING.replace("PROGRAM_BYTES", repr(PROGRAM_BYTES))
    script = write_script(tmp_path, "forking.py", source)
    result = check(memlyze("run", "--follow-fork", "-o", "capture.mlyze", script, cwd=tmp_path))
    assert (tmp_path / "victim.txt").read_bytes() == PROGRAM_BYTES
    child_path = f"capture.mlyze.{result.stdout.split()[1]}"
    assert CONTINUES + str(tmp_path / child_path) in result.stderr, result.stderr
    child = json.loads(check(memlyze("stats", "--json", child_path, cwd=tmp_path)).stdout)
    assert not child["truncated"], child.get("truncation_note")
    assert child["total_bytes"] >= 20_000_000, child["total_bytes"]
    parent = json.loads(check(memlyze("stats", "--json", "capture.mlyze", cwd=tmp_path)).stdout)
    assert not parent["truncated"] and parent["total_bytes"] >= 10_000_000


def test_aggregate_snapshots_leave_the_program_file_alone(tmp_path):
    script = program(tmp_path, "closerange_soft_limit")
    result = check(memlyze("run", "--aggregate", "--aggregate-interval", "0.05", "-o",
                           "capture.mlyze", script, cwd=tmp_path))
    assert (tmp_path / "victim.txt").read_bytes() == PROGRAM_BYTES
    assert "error" not in result.stderr, result.stderr
    stats = json.loads(check(memlyze("stats", "--json", "capture.mlyze", cwd=tmp_path)).stdout)
    assert stats["aggregated"] and not stats["truncated"]
    assert stats["total_bytes"] >= 20_000_000, stats["total_bytes"]
