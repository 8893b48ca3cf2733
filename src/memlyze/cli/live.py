"""``memlyze live PORT``: watch a process recorded with ``--live`` while it runs.

Connects to 127.0.0.1:PORT (the only address a live view is served on) and
shows the Textual live view (memlyze/live_view). A port that serves no live
view, another viewer already connected, or a protocol version mismatch are
said in one line, with exit status 1.
"""

from __future__ import annotations

from ._common import CliError, make_parser

DESCRIPTION = "live view (Textual) of a process run with --live"

EPILOG = """\
keys: o / t / c sort by own bytes / total bytes / blocks; < and > (or [ and ])
choose the thread; p (or space) pauses the display; q quits.
Own bytes are what a location allocated itself, total bytes include what it
called. The view reconnects by itself when the connection drops.
"""


def _port(text: str) -> int:
    import argparse

    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {text!r}")
    return int(text)


def build_parser():
    parser = make_parser("live", DESCRIPTION, epilog=EPILOG, usage="memlyze live PORT")
    parser.add_argument("port", type=_port, metavar="PORT",
                        help="the port the program printed (memlyze: live view on "
                             "127.0.0.1:PORT)")
    return parser


def main(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    try:
        from memlyze.live_view.app import LiveApp
    except ImportError as error:
        raise CliError(f"the live view needs Textual ({error}): pip install textual") from None
    from memlyze.live_view.connection import Connection, LiveError

    try:
        connection, hello, history = Connection.open(options.port)
    except LiveError as error:
        raise CliError(str(error)) from None
    LiveApp(options.port, connection, hello, history).run()
    return 0
