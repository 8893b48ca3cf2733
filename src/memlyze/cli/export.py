"""``memlyze export FILE --format pprof|speedscope|collapsed|csv|json|parquet [-o OUT]``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ._captures import add_files, check_single, load_merged
from ._common import (CliError, UsageError, add_force_option, check_capture_path,
                      check_output_file, describe_capture_error, make_parser, os_error_text,
                      warn_if_nothing_selected)
from ._selectors import SELECTOR_HELP, add_selectors, load_report, sampled_note

DESCRIPTION = "pprof, speedscope, collapsed stacks, CSV, JSON or Parquet tables"
FORMATS = ("pprof", "speedscope", "collapsed", "csv", "json", "parquet")
EXTENSIONS = {"pprof": ".pb.gz", "speedscope": ".speedscope.json", "collapsed": ".collapsed",
              "csv": ".csv", "json": ".json"}

EPILOG = SELECTOR_HELP + """

formats:
  pprof       gzipped profile.proto: go tool pprof -sample_index=inuse_space -top OUT
              (alloc_* = every allocation, inuse_* = the selection, the peak by default)
  speedscope  https://www.speedscope.app file format (sampled, weights in bytes)
  collapsed   'outer;...;inner BYTES' lines for flamegraph.pl and inferno
  csv, json   one row per location: bytes and count of the selection, leaked,
              total allocated, held at the peak
  parquet     the capture's tables (allocations, stacks, native_stacks, frames,
              snapshots, rss, gc, processes) as OUT/<table>/process=<pid>/part-0.parquet,
              for DuckDB, Dask, Spark (docs/data.md); -o OUT is required, and
              the selectors do not apply (the tables hold everything)

Output: -o OUT; without it pprof goes to memlyze-<capture>.pb.gz and the text
formats to stdout."""


def build_parser():
    parser = make_parser("export", DESCRIPTION, epilog=EPILOG)
    add_files(parser)
    parser.add_argument("--format", required=True, choices=FORMATS, metavar="FORMAT",
                        help="one of " + ", ".join(FORMATS))
    parser.add_argument("-o", "--output", metavar="OUT", help="output file ('-': stdout)")
    add_force_option(parser)
    add_selectors(parser)
    return parser


def _stem(path: str) -> str:
    name = Path(path).name
    return name[: -len(".mlyze")] if name.endswith(".mlyze") else name


def _text(report, form: str) -> str:
    from memlyze.reports import exports

    if form == "collapsed":
        return exports.collapsed(report)
    if form == "speedscope":
        return json.dumps(exports.speedscope(report, _stem(report.path)), ensure_ascii=False) + "\n"
    if form == "csv":
        return exports.locations_csv(report)
    return exports.dumps(exports.locations_json(report))


def _write(output: str | None, text: str) -> None:
    if output in (None, "-"):
        sys.stdout.write(text)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise CliError(f"cannot write {output}: {os_error_text(error)}") from None


def _export_parquet(capture: str, output: str | None) -> int:
    """The whole capture's tables (selectors do not apply: filter in SQL)."""
    from memlyze import _memlyze
    from memlyze.data_tables import DataError, export_parquet

    if not output or output == "-":
        raise CliError("parquet writes a directory: give it with -o DIR")
    if os.path.exists(output) and not os.path.isdir(output):
        raise CliError(f"{output} is not a directory")
    check_capture_path(capture)
    try:
        process = export_parquet(capture, output)
    except DataError as error:
        raise CliError(str(error)) from None
    except (_memlyze.CaptureError, MemoryError, RuntimeError) as error:
        raise CliError(describe_capture_error(capture, error)) from None
    except OSError as error:
        raise CliError(f"cannot export {capture}: {os_error_text(error)}") from None
    sys.stderr.write(f"Wrote {output} (process={process})\n")
    return 0


def main(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    output = options.output
    if options.format == "parquet":
        # one partition (process=<pid>) per capture, in the same directory
        for capture in dict.fromkeys(options.file):
            _export_parquet(capture, output)
        return 0
    if options.format == "pprof" and output == "-":
        raise CliError("pprof is binary: give a file name with -o")
    if len(options.file) > 1:
        return several(options, output)
    if options.format == "pprof" and not output:
        output = f"memlyze-{_stem(options.file[0])}{EXTENSIONS['pprof']}"
    check_output_file(output, options.force, options.file[0])
    report = load_report(options.file[0], options)
    if output not in (None, "-"):
        selected = report.tree(other_fraction=0.0, max_nodes=1)["nodes"]
        warn_if_nothing_selected(selected["count"][0], selected["bytes"][0],
                                 f"the export in {output}", options)
    note = sampled_note(report)
    if note:
        sys.stderr.write(f"memlyze: {note}\n")
    if options.format == "pprof":
        try:
            report.export_pprof(output)
        except OSError as error:
            raise CliError(f"cannot write {output}: {os_error_text(error)}") from None
        sys.stderr.write(f"Wrote {output}\n")
        return 0
    _write(output, _text(report, options.format))
    if output not in (None, "-"):
        sys.stderr.write(f"Wrote {output}\n")
    return 0


def several(options, output) -> int:
    """--merge of several captures: collapsed stacks under one frame per
    process, or CSV / JSON rows summed by location."""
    check_single(options, "export", " (one file for all the processes)")
    if options.format not in ("collapsed", "csv", "json"):
        raise UsageError(f"export: --format {options.format} takes one capture; several merge "
                         "into collapsed, csv or json")
    check_output_file(output, options.force)
    merged = load_merged(options.file, options)
    note = sampled_note(merged)
    if note:
        sys.stderr.write(f"memlyze: {note}\n")
    if options.format == "collapsed":
        text = merged.collapsed()
    elif options.format == "csv":
        text = merged.locations_csv()
    else:
        from memlyze.reports import exports

        text = exports.dumps(merged.locations_json())
    _write(output, text)
    if output not in (None, "-"):
        sys.stderr.write(f"Wrote {output}\n")
    return 0
