"""``memlyze flamegraph FILE``: a self-contained HTML flame graph page."""

from __future__ import annotations

from pathlib import Path

from .. import formatting as fmt
from ._common import (CliError, UsageError, check_capture_path, check_output_file,
                      describe_capture_error, make_parser, os_error_text, warn_truncated,
                      warn_if_nothing_selected)
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
    parser.add_argument("file", metavar="FILE", nargs="+",
                        help="capture file (.mlyze); several (app.mlyze*) with --merge")
    parser.add_argument("--merge", action="store_true",
                        help="several captures (--follow-subprocesses) in one page whose root's "
                             "children are the processes; without it, one page per capture")
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
                        help="start with one subtree per thread under the root (the page's "
                             "thread selector changes it)")
    parser.add_argument("--min-share", type=_percent, default=0.0, metavar="P",
                        help="fold frames holding less than P%% of the selection into 'other' "
                             "(a smaller page; default: fold only past 50,000 frames, and never "
                             "more than 1%% of the selection)")
    # --leaks/--temporary/--snapshot, --thread, --include/--exclude
    add_selectors(parser, snapshot=snapshot)


def _percent(text: str) -> float:
    import argparse

    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage, got {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"expected a percentage from 0 to 100, got {text!r}")
    return value


def default_output(capture: str) -> str:
    stem = Path(capture).name
    if stem.endswith(".mlyze"):
        stem = stem[: -len(".mlyze")]
    return f"memlyze-flamegraph-{stem or 'capture'}.html"


def load_flame_data(options, merged: bool = False) -> dict:
    """The flame data of the capture(s) options.file (a path, or a list of
    paths: several only with merged) with the options' selectors, or a
    CliError saying in one line why there is none."""
    paths = [options.file] if isinstance(options.file, str) else list(options.file)
    for path in paths:
        check_capture_path(path)
    from memlyze.reports.flame_data import build_flame_data
    from memlyze.reports.flame_merge import build_merged_flame_data

    selection, snapshot = selection_of(options)
    if merged:
        if options.temporal or options.split_threads:
            raise UsageError("--merge cannot be combined with --temporal or --split-threads")
        build = build_merged_flame_data
        extra = {}
    else:
        build = build_flame_data
        extra = {"split_threads": options.split_threads, "temporal": options.temporal,
                 "page_controls": True}
    try:
        return build(
            paths if merged else paths[0],
            selection=selection,
            snapshot=snapshot,
            thread=options.thread,
            include=tuple(options.include),
            exclude=tuple(options.exclude),
            inverted=options.inverted,
            temporary_threshold=options.temporary_threshold,
            **extra,
            min_share=options.min_share / 100.0,
            native_frames=options.native_frames,
        )
    except CliError:
        raise
    except ValueError as error:
        from memlyze.reports.report_data import ReportError

        where = " ".join(paths)
        if isinstance(error, ReportError):  # a selector the capture cannot satisfy
            raise CliError(f"{where}: {error}") from None
        raise CliError(describe_capture_error(where, error)) from None
    except (OSError, ValueError, RuntimeError, MemoryError, LookupError) as error:
        raise CliError(describe_capture_error(" ".join(paths), error)) from None
    except Exception as error:  # the C reader's CaptureError and friends
        if type(error).__name__.endswith("Error"):
            raise CliError(describe_capture_error(" ".join(paths), error)) from None
        raise


def main(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    if options.temporary_threshold != 1 and not options.temporary:
        raise UsageError("--temporary-threshold needs --temporary")
    if len(options.file) == 1 or options.merge:
        return write_page(options, options.output or default_output(options.file[0]),
                          merged=len(options.file) > 1)
    if options.output:
        raise UsageError("flamegraph: -o names one page: add --merge for several captures, "
                         "or leave -o out for one page per capture")
    import copy

    for path in dict.fromkeys(options.file):
        single = copy.copy(options)
        single.file = [path]
        write_page(single, default_output(path), merged=False)
    return 0


def write_page(options, output: str, merged: bool) -> int:
    for path in options.file:
        check_output_file(output, options.force, path)
    data = load_flame_data(options, merged)
    meta = data.get("meta") or {}
    if meta.get("capture_truncated"):
        warn_truncated(", ".join(options.file), meta.get("truncation_note"))
    warn_if_nothing_selected(meta.get("total_count"), meta.get("total_bytes"),
                             f"the flame graph in {output}", options)

    from memlyze.reports import flamegraph_html

    page = flamegraph_html.render(data).encode("utf-8")
    try:
        with open(output, "wb") as handle:
            handle.write(page)
    except OSError as error:
        raise CliError(f"cannot write {output}: {os_error_text(error)}") from None
    label = meta.get("selection_label") or meta.get("selection") or ""
    print(f"Wrote {output} ({fmt.human_bytes(len(page))}): "
          f"{fmt.counted(meta.get('node_count') or len(data.get('nodes', {}).get('parent') or []), 'frame')}"
          + (f", {label}" if label else ""))
    if meta.get("sampled"):
        print("Sampled capture: byte figures on the page are estimates of the whole.")
    if meta.get("aggregated"):
        print(meta["aggregate_note"])
    if meta.get("ring_note"):
        print(meta["ring_note"])
    return 0
