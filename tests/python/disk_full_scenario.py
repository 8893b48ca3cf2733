"""One disk-full run, inside a mount namespace of its own.

    unshare --mount python disk_full_scenario.py WORKDIR MODE COMMAND

(non-root: `unshare --user --map-root-user --mount`). Mounts a small tmpfs
on WORKDIR/disk (it goes away with the namespace: nothing to unmount, even
if this dies), runs a program twice, plainly and under `memlyze run` or
`memlyze record` (MODE "default" or "aggregate") writing its capture there,
and fills the disk between the program's two phases. Copies what is left on
the disk to WORKDIR/left and prints a JSON account of both runs.

Used by tests/python/test_disk_full.py and benchmarks/fault_suite.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

DISK_SIZE = "1m"
# Allocations of phase one, every one made at the marked line and kept:
# the capture must hold them all (they were written before the disk filled).
PHASE_ONE_ALLOCATIONS = 300
PHASE_ONE_SIZE = 20_000
# Long enough for a chunk (50 ms) or a snapshot (--aggregate-interval) of
# phase one to reach the disk before it fills.
SETTLE_S = 0.4
AGGREGATE_INTERVAL = "0.05"

PROGRAM = f"""\
import sys, time
kept = []
for _ in range({PHASE_ONE_ALLOCATIONS}):
    kept.append(bytearray({PHASE_ONE_SIZE}))  # phase one
print("ready", flush=True)
print("a line of the program's own on stderr", file=sys.stderr, flush=True)
sys.stdin.readline()
churn = []
count = 0
deadline = time.monotonic() + 0.6
while time.monotonic() < deadline:
    churn.append(bytearray(1000 + count % 3000))
    count += 1
    if len(churn) > 500:
        churn.clear()
print("done", flush=True)
sys.exit(3)
"""


def fill(directory: Path) -> int:
    """Writes a file in directory until the disk is full; its size."""
    written = 0
    block = b"\0" * 4096
    with open(directory / "filler", "wb", buffering=0) as filler:
        for piece in (block, b"\0"):
            while True:
                try:
                    written += filler.write(piece)
                except OSError:
                    break
    return written


def run(command: list[str], disk: Path | None) -> dict:
    """Runs command to its end, filling disk (if given) once it says ready."""
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=disk or None)
    first = process.stdout.readline()
    filled = None
    if disk is not None:
        time.sleep(SETTLE_S)
        filled = fill(disk)
    started = time.monotonic()
    stdout, stderr = process.communicate("go\n", timeout=120)
    return {"stdout": first + stdout, "stderr": stderr, "returncode": process.returncode,
            "filled_bytes": filled, "after_fill_s": time.monotonic() - started}


def main() -> None:
    workdir, mode, command = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    disk = workdir / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(disk)],
                   check=True)
    program = workdir / "program.py"
    program.write_text(PROGRAM)
    capture = disk / "capture.mlyze"
    options = ["-o", str(capture)]
    if mode == "aggregate":
        options += ["--aggregate", "--aggregate-interval", AGGREGATE_INTERVAL]
    memlyze = [sys.executable, "-m", "memlyze"]
    if command == "run":
        profiled = [*memlyze, "run", *options, str(program)]
    else:
        profiled = [*memlyze, "record", *options, sys.executable, str(program)]
    plain = run([sys.executable, str(program)], None)
    recorded = run(profiled, disk)
    left = workdir / "left"
    left.mkdir()
    names = sorted(path.name for path in disk.iterdir())
    for path in disk.iterdir():
        if path.name != "filler":
            shutil.copy2(path, left / path.name)
    print(json.dumps({"plain": plain, "recorded": recorded, "left_on_disk": names,
                      "capture": str(left / capture.name), "disk": str(disk)}))


if __name__ == "__main__":
    main()
