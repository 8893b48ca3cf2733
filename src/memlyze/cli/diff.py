"""``memlyze diff A B`` / ``memlyze diff FILE --from-snapshot I --to-snapshot J``:
growth and shrinkage of held memory by location, largest absolute change first.

Between two captures both sides use the same selection (the peak by default,
or --leaks / --temporary / --snapshot K of each); between two snapshots of one
capture, the memory held at snapshot I and at snapshot J. The header names
each side's selection and figures (both peaks).
"""

from __future__ import annotations

from .. import formatting as fmt
from ._common import UsageError, add_force_option, check_output_file, make_parser, positive_int
from ._selectors import SELECTOR_HELP, add_selectors, load_report, sampled_note
from .table import default_html_name, write_output

DESCRIPTION = "growth and shrinkage by location between captures or snapshots"


def build_parser():
    parser = make_parser("diff", DESCRIPTION, epilog=SELECTOR_HELP)
    parser.add_argument("files", metavar="FILE", nargs="+", help="two captures, or one with snapshots")
    parser.add_argument("--from-snapshot", type=positive_int, metavar="I",
                        help="compare snapshot I ...")
    parser.add_argument("--to-snapshot", type=positive_int, metavar="J", help="... to snapshot J")
    parser.add_argument("-n", "--top", type=positive_int, default=None, metavar="N",
                        help="only the N largest changes (text output; default: all)")
    parser.add_argument("--html", action="store_true", help="write a sortable HTML page")
    parser.add_argument("-o", "--output", metavar="OUT", help="output file (default: stdout)")
    add_force_option(parser)
    add_selectors(parser)
    return parser


def _by_location(report) -> dict[tuple, tuple[int, int]]:
    from memlyze.reports.exports import location_rows

    return {(row["function"], row["file"], row["line"]): (row["bytes"], row["count"])
            for row in location_rows(report)}


def changes(before, after) -> list[dict]:
    """Per location: before/after bytes and counts and the change, largest |change| first."""
    old, new = _by_location(before), _by_location(after)
    rows = []
    for key in old.keys() | new.keys():
        (old_bytes, old_count), (new_bytes, new_count) = old.get(key, (0, 0)), new.get(key, (0, 0))
        if old_bytes == new_bytes and old_count == new_count:
            continue
        rows.append({"function": key[0], "file": key[1], "line": key[2],
                     "before_bytes": old_bytes, "after_bytes": new_bytes,
                     "change_bytes": new_bytes - old_bytes, "before_count": old_count,
                     "after_count": new_count, "change_count": new_count - old_count})
    rows.sort(key=lambda row: (-abs(row["change_bytes"]), -abs(row["change_count"]),
                               row["function"], row["file"], row["line"]))
    return rows


def _signed(value: int) -> str:
    return ("+" if value > 0 else "") + fmt.human_bytes(value)


def _where(row) -> str:
    return fmt.location((row["function"], row["file"], row["line"]))


def text(rows, title: str, notes: list[str], top: int | None) -> str:
    grown = sum(row["change_bytes"] for row in rows if row["change_bytes"] > 0)
    shrunk = sum(row["change_bytes"] for row in rows if row["change_bytes"] < 0)
    out = [fmt.terminal_text(title), *(fmt.terminal_text(note) for note in notes),
           f"Net change {_signed(grown + shrunk)} (grew {_signed(grown)}, shrank {_signed(shrunk)})", ""]
    if not rows:
        out.append("No location changed.")
        return "\n".join(out)
    shown = rows[:top] if top else rows
    cells = [[_signed(row["change_bytes"]), fmt.human_bytes(row["before_bytes"]),
              fmt.human_bytes(row["after_bytes"]), f"{row['change_count']:+,}", _where(row)]
             for row in shown]
    out.append(fmt.table(("change", "before", "after", "count", "location"), cells,
                         align="rrrrl", indent="  "))
    if len(shown) < len(rows):
        out.append(f"  ... {len(rows) - len(shown)} more locations changed")
    return "\n".join(out)


def html_page(rows, title: str, notes: list[str]) -> str:
    from memlyze.reports.table_html import cell, page

    body = [[cell(_signed(row["change_bytes"]), row["change_bytes"], "number"),
             cell(fmt.human_bytes(row["before_bytes"]), row["before_bytes"], "number"),
             cell(fmt.human_bytes(row["after_bytes"]), row["after_bytes"], "number"),
             cell(f"{row['change_count']:+,}", row["change_count"], "number"),
             cell(row["function"]),
             cell(f"{row['file']}:{row['line']}" if row["file"] else "", css="where")]
            for row in rows]
    return page(title, notes, ["change", "before", "after", "count change", "function",
                               "location"], body)


def _sides(options):
    if options.from_snapshot is not None or options.to_snapshot is not None:
        if len(options.files) != 1:
            raise UsageError("diff: --from-snapshot/--to-snapshot compare snapshots of ONE capture")
        if options.from_snapshot is None or options.to_snapshot is None:
            raise UsageError("diff: give both --from-snapshot I and --to-snapshot J")
        if options.leaks or options.temporary or options.snapshot is not None:
            raise UsageError("diff: --from-snapshot/--to-snapshot cannot be combined with "
                             "--leaks, --temporary or --snapshot")
        path = options.files[0]
        before = load_report(path, options, selection="snapshot", snapshot=options.from_snapshot)
        after = load_report(path, options, selection="snapshot", snapshot=options.to_snapshot)
        return before, after, f"{path}: snapshot {options.from_snapshot} -> {options.to_snapshot}"
    if len(options.files) != 2:
        raise UsageError("diff: give two captures (diff A B), or one with --from-snapshot and "
                         "--to-snapshot")
    before, after = (load_report(path, options) for path in options.files)
    return before, after, f"{options.files[0]} -> {options.files[1]}"


def side_lines(before, after) -> list[str]:
    """One line per side: its capture, its selection and its peak, so that
    neither side's figures are left out."""
    lines = []
    for name, report in (("A", before), ("B", after)):
        summary = report.summary
        peak = (f"peak {fmt.human_bytes(summary['peak_bytes'])} at "
                f"{fmt.human_duration(summary['peak_time_ns'] / 1e9)}")
        label = report.selection_label()
        if report.selection != "peak":  # the peak label already gives it
            label += f"; {peak}"
        lines.append(f"{name}: {report.path}: {label}")
    return lines


def main(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    output = options.output or (default_html_name("diff", options.files[-1]) if options.html else None)
    for capture in options.files:
        check_output_file(output, options.force, capture)
    before, after, title = _sides(options)
    notes = side_lines(before, after)
    notes += [note for note in dict.fromkeys((sampled_note(before), sampled_note(after))) if note]
    rows = changes(before, after)
    if options.html:
        write_output(output, html_page(rows, title, notes))
    else:
        write_output(options.output, text(rows, title, notes, options.top))
    return 0
