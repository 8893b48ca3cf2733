"""``memlyze table FILE``: allocations grouped by location (innermost frame)."""

from __future__ import annotations

import sys

from .. import formatting as fmt
from ._captures import add_files, load_merged, tree_of
from ._common import (CliError, UsageError, add_force_option, check_output_file, make_parser,
                      os_error_text, positive_int, warn_if_nothing_selected)
from ._selectors import SELECTOR_HELP, add_selectors, load_report, sampled_note

DESCRIPTION = "allocations grouped by location (--html for a sortable page)"


def build_parser():
    parser = make_parser("table", DESCRIPTION, epilog=SELECTOR_HELP)
    add_files(parser)
    parser.add_argument("--sort", choices=("bytes", "count"), default="bytes",
                        help="order of the rows (default: bytes)")
    parser.add_argument("-n", "--top", type=positive_int, default=None, metavar="N",
                        help="only the first N rows (text output; default: all)")
    parser.add_argument("--html", action="store_true", help="write a sortable HTML page")
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="output file (default: stdout; with --html memlyze-table-<capture>.html)")
    add_force_option(parser)
    add_selectors(parser)
    return parser


def sorted_rows(report, key: str) -> list[dict]:
    from memlyze.reports.exports import location_rows

    merged_rows = getattr(report, "location_rows", None)  # a MergedReport
    rows = merged_rows() if merged_rows else location_rows(report)
    rows = [row for row in rows if row["bytes"] or row["count"]]
    rows.sort(key=lambda row: (-row[key], -row["bytes" if key == "count" else "count"]))
    return rows


def text(report, rows: list[dict], path: str, top: int | None) -> str:
    total = sum(row["bytes"] for row in rows)
    out = [f"{fmt.terminal_text(path)}: {fmt.terminal_text(report.header['command'] or '-')}",
           f"{fmt.terminal_text(report.selection_label())}: {fmt.human_bytes(total)} in "
           f"{fmt.counted(sum(row['count'] for row in rows), 'allocation')}"]
    note = sampled_note(report)
    if note:
        out.append(note)
    out.append("")
    if not rows:
        out.append("Nothing was selected: no allocation matches.")
        return "\n".join(out)
    shown = rows[:top] if top else rows
    cells = [[fmt.human_bytes(row["bytes"]), fmt.percent(row["bytes"], total),
              fmt.human_count(row["count"]), fmt.human_bytes(row["total_bytes"]),
              fmt.location((row["function"], row["file"], row["line"]))]
             for row in shown]
    out.append(fmt.table(("bytes", "%", "count", "allocated", "location"), cells,
                         align="rrrrl", indent="  "))
    if len(shown) < len(rows):
        out.append(f"  ... {len(rows) - len(shown)} more locations")
    return "\n".join(out)


def html_page(report, rows: list[dict], path: str, sort: str = "bytes") -> str:
    from memlyze.reports.table_html import StringTable, location_columns, location_page

    total = sum(row["bytes"] for row in rows)
    notes = [f"{path}: {report.header['command'] or '-'}",
             f"{report.selection_label()}: {fmt.human_bytes(total)}"]
    note = sampled_note(report)
    if note:
        notes.append(note)
    if report.aggregated:
        from memlyze.reports.report_data import AGGREGATE_NOTE

        notes.append(AGGREGATE_NOTE)
    strings = StringTable()
    data = {"selection_bytes": total, "sorted_by": sort,
            "rows": location_columns(rows, strings), "threads": [], "thread_rows": None}
    per_thread = thread_rows(report)
    if per_thread:
        columns = None
        for index, (label, rows_of_thread) in enumerate(per_thread):
            data["threads"].append(label)
            columns = location_columns(rows_of_thread, strings, index, columns)
        data["thread_rows"] = columns
    data["strings"] = strings.table
    return location_page("memlyze table", notes, data)


def thread_rows(report) -> list[tuple[str, list[dict]]]:
    """(label, rows) per thread that allocated, for the page's thread filter:
    for one capture of several threads, with no --thread chosen."""
    import copy

    if getattr(report, "thread_id", 0) is not None:  # a MergedReport, or --thread
        return []
    threads = report.threads()
    if len(threads) < 2:
        return []
    result = []
    for thread_id, _, name in threads:
        one = copy.copy(report)
        one.thread_id = thread_id
        rows = sorted_rows(one, "bytes")
        if rows:
            result.append((f"{name} ({thread_id})" if name else f"thread {thread_id}", rows))
    return result


def write_output(output: str | None, content: str) -> None:
    if output in (None, "-"):
        sys.stdout.write(content if content.endswith("\n") else content + "\n")
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(content)
    except OSError as error:
        raise CliError(f"cannot write {output}: {os_error_text(error)}") from None
    sys.stderr.write(f"Wrote {output}\n")


def default_html_name(prefix: str, path: str) -> str:
    from pathlib import Path

    name = Path(path).name
    stem = name[: -len(".mlyze")] if name.endswith(".mlyze") else name
    return f"memlyze-{prefix}-{stem}.html"


def main(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    if len(options.file) > 1:
        return several(options)
    path = options.file[0]
    output = options.output or (default_html_name("table", path) if options.html else None)
    check_output_file(output, options.force, path)
    report = load_report(path, options)
    rows = sorted_rows(report, options.sort)
    if output not in (None, "-"):
        warn_if_nothing_selected(len(rows), 0, f"the table in {output}", options)
    if options.html:
        write_output(output, html_page(report, rows, path, options.sort))
    else:
        write_output(options.output, text(report, rows, path, options.top))
    return 0


def several(options) -> int:
    """The process tree, then one table per capture, or (--merge) one table
    of every process's locations summed."""
    check_output_file(options.output, options.force)
    merged = load_merged(options.file, options)
    if options.html:
        if not options.merge:
            raise UsageError("table: --html of several captures needs --merge")
        output = options.output or default_html_name("table", options.file[0])
        check_output_file(output, options.force)
        write_output(output, html_page(merged, sorted_rows(merged, options.sort), "merged",
                                         options.sort))
        return 0
    sections = [tree_of(merged)]
    if options.merge:
        sections.append(text(merged, sorted_rows(merged, options.sort), "all processes (merged)",
                             options.top))
    else:
        sections += [text(report, sorted_rows(report, options.sort), process.path, options.top)
                     for process, report in zip(merged.processes, merged.reports)]
    write_output(options.output, "\n\n".join(sections))
    return 0
