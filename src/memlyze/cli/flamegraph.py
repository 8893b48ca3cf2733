"""``memlyze flamegraph FILE``: a self-contained HTML flame graph page."""

from __future__ import annotations

import os
from pathlib import Path

from .. import formatting as fmt
from ._common import (CliError, UsageError, check_capture_path, describe_capture_error, make_parser,
                      os_error_text, warn)
from ._selectors import SELECTOR_HELP, add_selectors, selection_of

DESCRIPTION = "self-contained HTML flame graph with a memory-over-time chart"

EPILOG = SELECTOR_HELP + """

examples:
  memlyze flamegraph app.mlyze                     # memlyze-flamegraph-app.html
  memlyze flamegraph --leaks -o leaks.html app.mlyze
  memlyze flamegraph --temporal app.mlyze          # drag a time range on the chart
  memlyze flamegraph --include 'mypkg/*' --exclude '*/site-packages/*' app.mlyze

The page opens offline in any browser: everything is inside the one file."""


def build_parser():
    parser = make_parser("flamegraph", DESCRIPTION, epilog=EPILOG)
    parser.add_argument("file", metavar="FILE", help="capture file (.mlyze)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="HTML file to write (default: memlyze-flamegraph-<capture name>.html)")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite an existing output file")
    add_flame_options(parser)
    return parser


def add_flame_options(parser, snapshot: bool = True) -> None:
    """What the page shows: the options of this command and of the IPython
    magic %%memlyze_flamegraph (defined once, so they cannot drift)."""
    parser.add_argument("--inverted", action="store_true",
                        help="icicle graph of allocating functions on top of their callers")
    parser.add_argument("--temporal", action="store_true",
                        help="also embed when each allocation was made and freed, so a time range "
                             "can be chosen on the page")
    parser.add_argument("--split-threads", action="store_true",
                        help="one subtree per thread under the root")
    # --leaks/--temporary/--snapshot, --thread, --include/--exclude
    add_selectors(parser, snapshot=snapshot)


def default_output(capture: str) -> str:
    stem = Path(capture).name
    if stem.endswith(".mlyze"):
        stem = stem[: -len(".mlyze")]
    return f"memlyze-flamegraph-{stem or 'capture'}.html"


def load_flame_data(options) -> dict:
    """The flame data of the capture options.file with the options' selectors,
    or a CliError saying in one line why there is none."""
    check_capture_path(options.file)
    try:
        from memlyze.reports.flame_data import build_flame_data
    except ImportError as error:
        raise CliError(f"this memlyze has no flame graph data builder ({error})") from None
    selection, snapshot = selection_of(options)
    try:
        return build_flame_data(
            options.file,
            selection=selection,
            snapshot=snapshot,
            thread=options.thread,
            split_threads=options.split_threads,
            include=tuple(options.include),
            exclude=tuple(options.exclude),
            inverted=options.inverted,
            temporal=options.temporal,
            temporary_threshold=options.temporary_threshold,
        )
    except CliError:
        raise
    except ValueError as error:
        from memlyze.reports.report_data import ReportError

        if isinstance(error, ReportError):  # a selector the capture cannot satisfy
            raise CliError(f"{options.file}: {error}") from None
        raise CliError(describe_capture_error(options.file, error)) from None
    except (OSError, ValueError, RuntimeError, MemoryError, LookupError) as error:
        raise CliError(describe_capture_error(options.file, error)) from None
    except Exception as error:  # the C reader's CaptureError and friends
        if type(error).__name__.endswith("Error"):
            raise CliError(describe_capture_error(options.file, error)) from None
        raise


def main(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    if options.temporary_threshold != 1 and not options.temporary:
        raise UsageError("--temporary-threshold needs --temporary")
    output = options.output or default_output(options.file)
    if os.path.isdir(output):
        raise CliError(f"{output} is a directory; give a file name with -o")
    if os.path.exists(output) and not options.force:
        raise CliError(f"{output} exists; use -f to overwrite it")
    if os.path.abspath(output) == os.path.abspath(options.file):
        raise CliError(f"{output} is the capture itself; choose another output file")
    data = load_flame_data(options)
    meta = data.get("meta") or {}
    if meta.get("capture_truncated"):
        note = str(meta.get("truncation_note") or "").strip()
        if not note.lower().startswith("capture is truncated"):
            note = "capture is truncated" + (f": {note}" if note else
                                             ": the recording process did not finish writing it")
        warn(note)

    from memlyze.reports import flamegraph_html

    page = flamegraph_html.render(data).encode("utf-8")
    try:
        with open(output, "wb") as handle:
            handle.write(page)
    except OSError as error:
        raise CliError(f"cannot write {output}: {os_error_text(error)}") from None
    label = meta.get("selection_label") or meta.get("selection") or ""
    print(f"Wrote {output} ({fmt.human_bytes(len(page))}): "
          f"{fmt.human_count(meta.get('node_count') or len(data.get('nodes', {}).get('parent') or []))} frames"
          + (f", {label}" if label else ""))
    if meta.get("sampled"):
        print("Sampled capture: byte figures on the page are estimates of the whole.")
    return 0
