"""``memlyze dump PID``: ask a process recording with ``--ring`` to write its
window now.

It sends SIGUSR2, after checking that PID runs a ring recording: its
recorder's writer thread is named ``memlyze-ring`` (/proc/PID/task/*/comm),
so no other process gets a signal that could end it. The process writes the
dump in the background into the next free name of its output (FILE, then
FILE.1, FILE.2, ...).
"""

from __future__ import annotations

import os
import signal

from ._common import CliError, make_parser

DESCRIPTION = "ask a running --ring process to write its window (sends SIGUSR2)"

# The writer thread's name in a ring recording (recorder_writer.c).
RING_THREAD_NAME = "memlyze-ring"


def build_parser():
    parser = make_parser("dump", DESCRIPTION, usage="memlyze dump PID")
    parser.add_argument("pid", metavar="PID", help="the process recording with --ring")
    return parser


def _parse_pid(text: str) -> int:
    if not (text.isdigit() and text.isascii()) or int(text) < 1:
        raise CliError(f"dump: {text!r} is not a process id")
    return int(text)


def runs_ring_recording(pid: int) -> bool:
    """Whether one of pid's threads is a ring recording's writer. Raises
    CliError when pid does not exist or cannot be inspected."""
    task_directory = f"/proc/{pid}/task"
    try:
        threads = os.listdir(task_directory)
    except FileNotFoundError:
        raise CliError(f"dump: no process {pid}") from None
    except PermissionError:
        raise CliError(f"dump: not allowed to inspect process {pid}") from None
    for thread in threads:
        try:
            with open(f"{task_directory}/{thread}/comm") as comm:
                if comm.read().strip() == RING_THREAD_NAME:
                    return True
        except OSError:
            continue  # the thread ended meanwhile
    return False


def capture_path(pid: int) -> str | None:
    """The output a `memlyze record`/`run` process dumps into, when its
    environment says (None otherwise, e.g. an in-process Tracker)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            entries = environ.read().split(b"\0")
    except OSError:
        return None
    from memlyze._bootstrap.record_environment import ENV_VAR, read_config

    prefix = ENV_VAR.encode() + b"="
    for entry in entries:
        if entry.startswith(prefix):
            try:
                return str(read_config(entry[len(prefix):].decode("ascii"))["path"])
            except (KeyError, TypeError, ValueError, UnicodeDecodeError):
                return None
    return None


def main(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    pid = _parse_pid(options.pid)
    if not runs_ring_recording(pid):
        raise CliError(f"dump: process {pid} is not recording with memlyze --ring")
    try:
        os.kill(pid, signal.SIGUSR2)
    except ProcessLookupError:
        raise CliError(f"dump: process {pid} has ended") from None
    except PermissionError:
        raise CliError(f"dump: not allowed to signal process {pid}") from None
    path = capture_path(pid)
    where = f" into {path} (or the next free {path}.N)" if path else ""
    print(f"memlyze: asked process {pid} to write its ring dump{where}")
    return 0
