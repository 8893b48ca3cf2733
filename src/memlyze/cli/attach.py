"""``memlyze attach PID [-o FILE] [--duration S] [OPTIONS]``: start recording
inside a running CPython that was started without memlyze.

The tracker is started inside the process (see memlyze/attach and
docs/attach.md); this command returns once it runs, or, with --duration,
once the recording has stopped and its capture is complete.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys

from ._common import CliError, add_force_option, check_output_file, make_parser, warn
from .record import aggregate_interval, tracker_options
from .record_options import add_tracking_options

DESCRIPTION = "start recording inside a running Python process (through gdb)"

EPILOG = """\
The process keeps running as it was: its output, exit status and threads are
unchanged. The recording stops with 'memlyze detach PID', after --duration,
or when the process exits (the capture is then completed by its exit).
Attaching needs gdb, and the right to trace the process (the same user, or
root; kernel.yama.ptrace_scope may narrow it). The process must run the
same Python version and build as this memlyze, and the tracker starts when
its main thread next runs Python code (see docs/attach.md).
"""


def process_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a process id, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a process id, got {text!r}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= 7 * 86400:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds above 0 and at most a week, got {text!r}")
    return value


def add_wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", type=seconds, default=30.0, metavar="SECONDS",
                        help="how long the process may take to run Python code and answer "
                             "(default: 30)")


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("attach", DESCRIPTION, epilog=EPILOG,
                         usage="memlyze attach PID [-o FILE] [--duration SECONDS] [OPTIONS]")
    parser.add_argument("pid", type=process_id, metavar="PID", help="the Python process")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="capture file; {pid} expands to PID (without it: the live view)")
    add_force_option(parser)
    parser.add_argument("--duration", type=seconds, metavar="SECONDS",
                        help="stop after this long and return when the capture is complete "
                             "(default: record until memlyze detach PID or the process's end)")
    add_wait_option(parser)
    add_tracking_options(parser)
    parser.add_argument("--aggregate", action="store_true",
                        help="keep only per-stack totals, rewriting the capture with the "
                             "latest snapshot every --aggregate-interval (as memlyze record)")
    parser.add_argument("--aggregate-interval", type=aggregate_interval, default=60.0,
                        metavar="SECONDS",
                        help="how often --aggregate rewrites the capture (default: 60)")
    parser.add_argument("--include", action="append", default=[], metavar="PATTERN",
                        help="record only allocations with a frame in a module matching "
                             "PATTERN (fnmatch on the module's __name__); repeatable")
    parser.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                        help="do not record allocations with a frame in a module matching "
                             "PATTERN; repeatable")
    return parser


LIVE_CAPTURE_NAME = "memlyze-attach-{pid}.mlyze"  # without -o, in the working directory


def capture_path(output: str, pid: int) -> str:
    """The absolute capture path (the process has its own working directory)."""
    if not output:
        raise CliError("attach: the output file name is empty")
    path = os.path.abspath(output.replace("{pid}", str(pid)))
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise CliError(f"cannot write capture file {path}: directory {directory} does not exist")
    return path


def attach_tracker_options(options: argparse.Namespace) -> dict:
    return {
        **tracker_options(options),
        "aggregate": options.aggregate,
        "aggregate_interval": options.aggregate_interval,
        "include_patterns": options.include,
        "exclude_patterns": options.exclude,
    }


def main(argv: list[str]) -> int:
    from memlyze.attach import AttachError, requests

    options = build_parser().parse_args(argv)
    pid = options.pid
    # Without -o: the live view of the process, its capture under a default
    # name beside it, and quitting the view detaches.
    live_port = None if options.output else free_local_port()
    path = capture_path(options.output or LIVE_CAPTURE_NAME, pid)
    try:
        prepared = requests.prepare(pid)
        check_output_file(path, options.force)
        fields = requests.request_fields("start", path=path, force=options.force,
                                         duration=options.duration, live_port=live_port,
                                         **attach_tracker_options(options))
        channel, state, message = requests.send(prepared, fields, options.wait)
    except AttachError as error:
        raise CliError(str(error)) from None
    with channel:
        if state != "started":
            raise CliError(message)
        if live_port is not None:
            return _watch_then_detach(pid, live_port, path)
        if options.duration is None:
            sys.stderr.write(f"memlyze: recording process {pid} into {shlex.quote(path)}; "
                             f"stop with: memlyze detach {pid}\n")
            return 0
        return _wait_for_the_end(channel, pid, path, options.duration)


def free_local_port() -> int:
    """A port free on 127.0.0.1 now, for the target's live view."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _watch_then_detach(pid: int, port: int, path: str) -> int:
    """Runs the live view until the user quits it, then stops the recording."""
    from memlyze.cli import detach, live

    sys.stderr.write(f"memlyze: recording process {pid} into {shlex.quote(path)}; live view "
                     f"on 127.0.0.1:{port} (quitting it detaches)\n")
    try:
        viewed = live.main([str(port)])
    finally:
        if os.path.exists(f"/proc/{pid}"):
            detach.main([str(pid)])
    return viewed


def _wait_for_the_end(channel, pid: int, path: str, duration: float) -> int:
    """With --duration: returns when the recording has stopped."""
    from memlyze.attach import exchange

    quoted = shlex.quote(path)
    try:
        answer = channel.wait(exchange.FINISHED, pid, duration + 120.0)
    except exchange.ProcessEnded:
        warn(f"process {pid} ended before the {duration:g} s were over; its capture "
             f"{quoted} was completed as it exited")
        return 0
    except KeyboardInterrupt:
        sys.stderr.write(f"\nmemlyze: process {pid} goes on recording until its {duration:g} s "
                         f"are over (memlyze detach {pid} stops it now)\n")
        return 130
    if answer is None:
        raise CliError(f"the recording in process {pid} did not stop after {duration:g} s "
                       f"(memlyze detach {pid} stops it)")
    state, message = answer
    if state == "exited":
        warn(f"process {pid} exited before the {duration:g} s were over; its capture "
             f"{quoted} was completed as it exited")
        return 0
    if state != "stopped":
        raise CliError(message)
    if message.startswith("detached"):
        sys.stderr.write(f"memlyze: the recording of process {pid} was stopped by memlyze "
                         f"detach; the capture is {quoted}\n")
        return 0
    sys.stderr.write(f"memlyze: recorded process {pid} for {duration:g} s into {quoted} "
                     f"(then: memlyze summary {quoted})\n")
    return 0
