"""The views of ``memlyze summary`` that read a report's selection: the top
locations of a selection (--leaks, --thread, ...) and the own/total table by
function (--by-function)."""

from __future__ import annotations

from .. import formatting as fmt
from ._selectors import sampled_note

FUNCTION_SORT_HELP = {
    "own": "own bytes (allocated in the function itself)",
    "total": "total bytes (allocated in it or its callees)",
    "count": "allocations made in it or its callees",
}


def heading(report, path: str, selected_bytes: int, selected_count: int) -> list[str]:
    out = [f"{fmt.terminal_text(path)}: {fmt.terminal_text(report.header['command'] or '-')}",
           f"{fmt.terminal_text(report.selection_label())}: {fmt.human_bytes(selected_bytes)} in "
           f"{fmt.counted(selected_count, 'allocation')}"]
    note = sampled_note(report)
    if note:
        out.append(note)
    if getattr(report, "aggregated", False):  # a MergedReport has no such flag
        from memlyze.reports.report_data import AGGREGATE_NOTE

        out.append(AGGREGATE_NOTE)
    return out


def _fit(rows: list[list[str]], width: int | None, fixed_columns: int) -> None:
    """Shortens the last cell (function and path) of each row so that rows
    stay on one terminal line."""
    if not width or not rows:
        return
    fixed = sum(max(len(row[index]) for row in rows) + 2 for index in range(fixed_columns)) + 2
    room = max(width - fixed, 30)
    for row in rows:
        if len(row[-1]) > room:
            function, _, where = row[-1].partition(" ")
            row[-1] = f"{function} {fmt.shorten_path(where, max(room - len(function) - 1, 12))}"


def locations_text(report, rows: list[dict], path: str, top: int, width: int | None) -> str:
    """The top locations (innermost frames) of the report's selection."""
    total = sum(row["bytes"] for row in rows)
    out = heading(report, path, total, sum(row["count"] for row in rows))
    out.append("")
    shown = [row for row in rows if row["bytes"] or row["count"]][:top]
    if not shown:
        out.append("Nothing was selected: no allocation matches.")
        return "\n".join(out)
    out += [f"Top {fmt.counted(len(shown), 'location')} of the selection:", ""]
    cells = [[fmt.human_bytes(row["bytes"]), fmt.percent(row["bytes"], total),
              fmt.human_count(row["count"]), fmt.location(row)] for row in shown]
    rest = total - sum(row["bytes"] for row in shown)
    if rest > 0:
        cells.append([fmt.human_bytes(rest), fmt.percent(rest, total), "", "(all other locations)"])
    _fit(cells, width, 3)
    out.append(fmt.table(("bytes", "%", "count", "location"), cells, align="rrrl", indent="  "))
    return "\n".join(out)


def functions_text(report, rows: list[dict], path: str, top: int, sort: str,
                   width: int | None) -> str:
    """The own/total table by function, sorted by sort (own, total or count)."""
    selected = sum(row["own_bytes"] for row in rows)
    out = heading(report, path, selected, sum(row["own_count"] for row in rows))
    out.append("")
    shown = rows[:top]
    if not shown:
        out.append("Nothing was selected: no allocation matches.")
        return "\n".join(out)
    out += [f"Top {fmt.counted(len(shown), 'function')} by {FUNCTION_SORT_HELP[sort]}; "
            "total counts a recursive function once per stack:", ""]
    cells = [[fmt.human_bytes(row["total_bytes"]), fmt.percent(row["total_bytes"], selected),
              fmt.human_bytes(row["own_bytes"]), fmt.percent(row["own_bytes"], selected),
              fmt.human_count(row["total_count"]),
              f"{fmt.terminal_text(row['function'])} {fmt.terminal_text(row['file'])}".rstrip()]
             for row in shown]
    _fit(cells, width, 5)
    headers = ["total", "%", "own", "%", "count", "function"]
    sorted_column = {"total": 0, "own": 2, "count": 4}[sort]
    headers[sorted_column] = f"<{headers[sorted_column]}>"
    out.append(fmt.table(headers, cells, align="rrrrrl", indent="  "))
    if len(rows) > len(shown):
        out.append(f"  ... {fmt.counted(len(rows) - len(shown), 'more function')}")
    return "\n".join(out)
