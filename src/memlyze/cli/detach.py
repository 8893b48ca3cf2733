"""``memlyze detach PID``: stop the recording ``memlyze attach`` started in a
process. The capture is completed, every hook memlyze put in is taken out,
and the process runs on."""

from __future__ import annotations

import shlex
import sys

from ._common import CliError, make_parser
from .attach import add_wait_option, process_id

DESCRIPTION = "stop the recording memlyze attach started in a running process"


def build_parser():
    parser = make_parser("detach", DESCRIPTION, usage="memlyze detach PID")
    parser.add_argument("pid", type=process_id, metavar="PID", help="the attached process")
    add_wait_option(parser)
    return parser


def main(argv: list[str]) -> int:
    from memlyze.attach import AttachError, requests

    options = build_parser().parse_args(argv)
    pid = options.pid
    try:
        prepared = requests.prepare(pid)
        if not prepared.target.engine_loaded:
            raise AttachError(f"no memlyze tracker is running in process {pid} "
                              f"(memlyze attach {pid} -o FILE starts one)")
        channel, state, message = requests.send(prepared, requests.request_fields("stop"),
                                                options.wait)
    except AttachError as error:
        raise CliError(str(error)) from None
    with channel:
        if state != "stopped":
            raise CliError(message)
    sys.stderr.write(f"memlyze: stopped recording process {pid}; the capture is "
                     f"{shlex.quote(message)} (then: memlyze summary {shlex.quote(message)})\n")
    return 0
