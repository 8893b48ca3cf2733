"""A Python process started without memlyze, for the attach tests: it sleeps
until a marker file appears, then allocates known blocks at known lines
until a second marker appears, and exits with its own status."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import clean_env, write_script

EXIT_STATUS = 7
BLOCK_SIZE = 1_000_000
KEPT_SIZE = 300_000
KEPT_LIMIT = 40
OUTPUT = "waiting\nallocating\ndone True\n"

SCRIPT = """
import os
import sys
import time

GO, STOP = sys.argv[1], sys.argv[2]


def allocate():
    kept = []
    while True:
        block = bytearray(1_000_000)  # BLOCK
        del block
        if len(kept) < 40:
            kept.append(bytearray(300_000))  # KEPT
        if os.path.exists(STOP):
            return kept
        time.sleep(0.002)


print("waiting", flush=True)
while not os.path.exists(GO):
    time.sleep(0.01)
print("allocating", flush=True)
kept = allocate()
print("done", len(kept) > 0, flush=True)
sys.exit(7)
"""


class Target:
    """The target process: start() it, go() to make it allocate, stop() to
    make it exit; its stdout is collected."""

    def __init__(self, directory: Path, python: str = sys.executable, script: str = SCRIPT):
        self.directory = Path(directory)
        self.script = write_script(self.directory, "target.py", script)
        self.go_marker = self.directory / "go"
        self.stop_marker = self.directory / "stop"
        self.python = python
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self) -> "Target":
        self.process = subprocess.Popen(
            [self.python, str(self.script), str(self.go_marker), str(self.stop_marker)],
            cwd=self.directory, env=clean_env(), stdout=subprocess.PIPE, text=True)
        self.expect("waiting")
        return self

    def expect(self, line: str) -> None:
        got = self.process.stdout.readline()
        self.lines.append(got)
        assert got == line + "\n", f"the target printed {got!r}, expected {line!r}"

    def go(self) -> None:
        self.go_marker.touch()
        self.expect("allocating")

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        """Makes it exit; returns its exit status and its whole stdout."""
        self.stop_marker.touch()
        rest = self.process.stdout.read()
        status = self.process.wait(timeout=timeout)
        return status, "".join(self.lines) + rest

    def thread_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/task"))

    def wait_for_threads(self, count: int, timeout: float = 60) -> int:
        """Polls until the process has count threads; returns the last count."""
        deadline = time.monotonic() + timeout
        while True:
            now = self.thread_count()
            if now == count or time.monotonic() > deadline:
                return now
            time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=60)
        if self.process is not None and self.process.stdout:
            self.process.stdout.close()


def wait_for_file(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size > 0):
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout} s"
        time.sleep(0.01)
