"""The selectors every report command takes, and loading a report with them.

--leaks | --temporary [--temporary-threshold N] | --snapshot K (default: the
peak), --thread T, --include PATTERN, --exclude PATTERN.
"""

from __future__ import annotations

import argparse
import sys

from ._common import CliError, UsageError, check_capture_path, describe_capture_error, warn_truncated

# The selectors' lines of every report's help (stats adds its own ending).
SELECTION_LINES = """\
selection (one of; default: memory held at the peak):
  --leaks            what was still allocated when tracking stopped
  --temporary        allocations freed before N other allocations happened
  --snapshot K       memory held at the K-th tracker.snapshot() (from 1)
filters:
  --thread T         only allocations of thread T (id or name)
  --include PATTERN  only stacks with a frame matching PATTERN
  --exclude PATTERN  no stack with a frame matching PATTERN
"""

SELECTOR_HELP = SELECTION_LINES + """\
  --native-frames all|trimmed
                     --native captures: every native frame, or (default) only
                     the program's: no frame outside its first Python frame and
                     none of the interpreter's between Python frames
PATTERN is fnmatch syntax, tested against each frame's function name, its file
path, the file's base name and its module: --include 'mypkg.*' --exclude
'*/site-packages/*'."""


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def add_selectors(parser, snapshot: bool = True, native_frames: bool = True) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--leaks", action="store_true", help="what was never freed")
    which.add_argument("--temporary", action="store_true", help="short-lived allocations")
    if snapshot:
        which.add_argument("--snapshot", type=_count, metavar="K",
                           help="memory held at snapshot K (1-based)")
    parser.add_argument("--temporary-threshold", type=_count, default=1, metavar="N",
                        help="with --temporary: freed before N other allocations (default: 1)")
    parser.add_argument("--thread", metavar="T", help="only allocations of thread T (id or name)")
    parser.add_argument("--include", action="append", default=[], metavar="PATTERN",
                        help="only stacks with a frame matching PATTERN (repeatable)")
    parser.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                        help="no stack with a frame matching PATTERN (repeatable)")
    if not native_frames:
        return
    parser.add_argument("--native-frames", choices=("trimmed", "all"), default="trimmed",
                        help="--native captures: 'all' keeps the interpreter's frames and those "
                             "outside the first Python frame (default: trimmed)")


def selectors_given(options) -> list[str]:
    """The selector options given on the command line (for the commands whose
    default view reads no selection: summary, stats)."""
    given = [flag for flag, on in (("--leaks", options.leaks), ("--temporary", options.temporary),
                                   ("--snapshot", getattr(options, "snapshot", None) is not None),
                                   ("--thread", options.thread), ("--include", options.include),
                                   ("--exclude", options.exclude)) if on]
    if options.temporary_threshold != 1:
        given.append("--temporary-threshold")
    return given


def selection_of(options) -> tuple[str, int | None]:
    if options.leaks:
        return "leaks", None
    if options.temporary:
        return "temporary", None
    if getattr(options, "snapshot", None) is not None:
        return "snapshot", options.snapshot
    return "peak", None


def load_report(path: str, options, *, selection=None, snapshot=None, temporal=False):
    """The Report of the capture at path with the options' selectors, or a
    CliError saying (in one line) why there is none."""
    from memlyze import _memlyze
    from memlyze.reports.report_data import ReportError, open_report

    if options.temporary_threshold != 1 and not options.temporary:
        raise UsageError("--temporary-threshold needs --temporary")
    check_capture_path(path)
    if selection is None:
        selection, snapshot = selection_of(options)
    try:
        report = open_report(path, selection=selection, snapshot=snapshot,
                             thread=options.thread, include=tuple(options.include),
                             exclude=tuple(options.exclude),
                             temporary_threshold=options.temporary_threshold,
                             temporal=temporal)
    except ReportError as error:
        raise CliError(f"{path}: {error}") from None
    except (_memlyze.CaptureError, OSError, ValueError, RuntimeError, MemoryError) as error:
        raise CliError(describe_capture_error(path, error)) from None
    report.all_native_frames = getattr(options, "native_frames", "trimmed") == "all"
    if report.header.get("truncated"):
        warn_truncated(path, report.header.get("truncation_note"))
    if report.aggregated:
        from memlyze.reports.report_data import AGGREGATE_NOTE

        sys.stderr.write(f"memlyze: {path}: {AGGREGATE_NOTE}\n")
    return report


def sampled_note(report) -> str | None:
    """The line every report on a sampled capture shows."""
    if report.sampled:
        how = report.sample_description.replace(" (estimates)", "")
        return f"Sampled capture ({how}): byte figures are estimates of the whole."
    return None
