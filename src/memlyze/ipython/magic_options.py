"""The command lines of the magics, parsed with the CLI's own option
definitions (memlyze record/run for what is recorded, memlyze flamegraph and
the report selectors for what is shown), so names, checks and help agree."""

from __future__ import annotations

import argparse
import shlex

from ..cli._common import ArgumentParser, UsageError, positive_int
from ..cli._selectors import SELECTOR_HELP, add_selectors
from ..cli.flamegraph import add_flame_options
from ..cli.record_options import add_tracking_options

FLAMEGRAPH = "%%memlyze_flamegraph"
SUMMARY = "%%memlyze_summary"

# a cell has no tracker of its own to take snapshots with
_EPILOG = SELECTOR_HELP.replace(
    "  --snapshot K       memory held at the K-th tracker.snapshot() (from 1)\n", "") + """

The cell runs as it would without the magic (its output, result, exceptions
and variables are its own); tracking covers the process (the kernel's threads
too) from the cell's start until it ends or raises."""


def _parser(prog: str, description: str) -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description=description, epilog=_EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="keep the cell's capture in FILE, for any memlyze report later "
                             "(default: a temporary file, removed)")
    parser.add_argument("-f", "--force", action="store_true",
                        help="overwrite existing output files")
    add_tracking_options(parser)  # --native, --python-allocators, --sample-interval, ...
    return parser


def flamegraph_parser() -> ArgumentParser:
    parser = _parser(FLAMEGRAPH, "run the cell under memlyze and show its flame graph inline")
    parser.add_argument("--html", metavar="FILE", help="also write the flame graph page to FILE")
    parser.add_argument("--height", type=lambda text: positive_int(text, 10_000), default=720,
                        metavar="PIXELS", help="height of the inline page (default: 720)")
    parser.add_argument("--all-frames", action="store_true",
                        help="keep the kernel's and IPython's frames above the cell's (by "
                             "default the cell's frames start at the root)")
    add_flame_options(parser, snapshot=False)  # --leaks, --temporary, --split-threads, ...
    return parser


def summary_parser() -> ArgumentParser:
    parser = _parser(SUMMARY, "run the cell under memlyze and show the locations holding the "
                              "most memory (at the peak, or as selected)")
    parser.add_argument("-n", "--top", type=positive_int, default=10, metavar="N",
                        help="number of locations to show (default: 10)")
    add_selectors(parser, snapshot=False)
    return parser


def parse(parser: ArgumentParser, line: str):
    """The options of the magic's line; UsageError (one line) when they are
    wrong. None after --help (argparse printed it)."""
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise UsageError(f"{parser.prog}: {error} in the options") from None
    try:
        options = parser.parse_args(words)
    except SystemExit:  # only --help exits: the errors raise UsageError
        return None
    if options.temporary_threshold != 1 and not options.temporary:
        raise UsageError(f"{parser.prog}: --temporary-threshold needs --temporary")
    return options
