"""A full disk: the program runs on unharmed, memlyze says so once, and the
capture stays readable by every report.

Each case runs disk_full_scenario.py in a mount namespace of its own with a
1 MiB tmpfs (`unshare --mount`; as a non-root user with `--user
--map-root-user` too): the namespace takes the mount with it whatever
happens, so no run leaves a mount behind. The scenario fills the disk
between the program's two phases, under `memlyze run` and `memlyze record`,
streaming and `--aggregate`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MEMLYZE, bytearray_bytes, clean_env, find_location
from disk_full_scenario import PHASE_ONE_ALLOCATIONS, PHASE_ONE_SIZE
from report_commands import report_commands

SCENARIO = Path(__file__).with_name("disk_full_scenario.py")
PHASE_ONE_LINE = 4
LIST_GROWTH_BYTES = 4096


def namespace_prefix() -> list[str]:
    if os.geteuid() == 0:
        return ["unshare", "--mount"]
    return ["unshare", "--user", "--map-root-user", "--mount"]


def run_scenario(workdir: Path, mode: str, command: str) -> dict:
    result = subprocess.run([*namespace_prefix(), sys.executable, str(SCENARIO), str(workdir),
                             mode, command], capture_output=True, text=True, env=clean_env(),
                            timeout=180)
    assert result.returncode == 0, f"the scenario failed:\n{result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module", params=[("default", "run"), ("aggregate", "run"),
                                        ("default", "record"), ("aggregate", "record")],
                ids=lambda param: "-".join(param))
def scenario(request, tmp_path_factory):
    mode, command = request.param
    workdir = tmp_path_factory.mktemp(f"disk-full-{mode}-{command}")
    outcome = run_scenario(workdir, mode, command)
    outcome["mode"], outcome["workdir"] = mode, workdir
    return outcome


def memlyze_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("memlyze")]


def test_the_disk_was_full_while_the_program_ran(scenario):
    assert scenario["recorded"]["filled_bytes"] > 0
    # The program's second phase ran on a full disk, memlyze still attached.
    assert scenario["recorded"]["after_fill_s"] >= 0.5


def test_the_program_is_unaffected(scenario):
    plain, recorded = scenario["plain"], scenario["recorded"]
    assert recorded["returncode"] == plain["returncode"] == 3
    assert recorded["stdout"] == plain["stdout"] == "ready\ndone\n"
    own = [line for line in recorded["stderr"].splitlines() if not line.startswith("memlyze")]
    assert own == plain["stderr"].splitlines()


def test_memlyze_says_it_once_in_one_clear_line(scenario):
    lines = memlyze_lines(scenario["recorded"]["stderr"])
    assert len(lines) == 1, scenario["recorded"]["stderr"]
    line = lines[0]
    assert scenario["disk"] + "/capture.mlyze" in line
    assert "No space left on device" in line
    assert "recording stopped" in line
    assert "Traceback" not in scenario["recorded"]["stderr"]


def test_nothing_but_the_capture_is_left_on_the_disk(scenario):
    # No <capture>.tmp.<pid>.<random> of a snapshot that did not fit.
    assert scenario["left_on_disk"] == ["capture.mlyze", "filler"]


def test_every_report_reads_the_capture(scenario):
    capture = Path(scenario["capture"])
    outputs = scenario["workdir"] / "reports"
    outputs.mkdir()
    for name, arguments in report_commands(capture, outputs).items():
        if name == "plot":
            continue  # plots a memlyze.process log, not a capture
        result = subprocess.run([*MEMLYZE, *arguments], capture_output=True, text=True,
                                env=clean_env(), timeout=120)
        assert result.returncode == 0, f"{name}: {result.stderr}"
        assert "Traceback" not in result.stderr, f"{name}: {result.stderr}"
        assert "capture is truncated" in result.stderr, f"{name}: {result.stderr}"


def test_the_capture_holds_everything_written_before_the_disk_filled(scenario):
    result = subprocess.run([*MEMLYZE, "stats", "--json", "-n", "1000", scenario["capture"]],
                            capture_output=True, text=True, env=clean_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["truncated"] is True
    phase_one = [entry for entry in stats["top_by_peak"]
                 if Path(entry["file"]).name == "program.py" and entry["line"] == PHASE_ONE_LINE]
    assert len(phase_one) == 1, stats["top_by_peak"]
    # The line's bytes are the buffers plus the list's growing pointer array
    # (under 4 KiB for 300 items): one lost buffer (20 kB) cannot hide in it.
    buffers = bytearray_bytes(PHASE_ONE_SIZE, PHASE_ONE_ALLOCATIONS)
    assert buffers <= phase_one[0]["bytes"] <= buffers + LIST_GROWTH_BYTES
