"""The text %%memlyze_summary prints: the cell's peak and what it leaked,
then the locations holding the most of the selected memory (at the peak by
default), as `memlyze summary` and `memlyze table` show them."""

from __future__ import annotations

from .. import formatting as fmt
from ..cli._selectors import sampled_note
from ..cli.table import sorted_rows


def render(report, top: int, file_labels: dict | None = None) -> str:
    """file_labels: names to show for some files (the cell's, as "Cell In[5]")."""
    labels = file_labels or {}
    rows = sorted_rows(report, "bytes")
    summary = report.summary
    selected = sum(row["bytes"] for row in rows)
    leaked = _leaked_bytes(report)
    out = [f"memlyze summary of the cell: peak {fmt.human_bytes(summary['peak_bytes'])} at "
           f"{fmt.human_duration(summary['peak_time_ns'] / 1e9)} of "
           f"{fmt.human_duration(summary['end_time_ns'] / 1e9)}; "
           f"allocated {fmt.human_bytes(summary['total_bytes'])} in "
           f"{fmt.human_count(summary['total_count'])} allocations; "
           f"leaked {fmt.human_bytes(leaked)}"]
    note = sampled_note(report)
    if note:
        out.append(note)
    out.append(f"{report.selection_label()}: {fmt.human_bytes(selected)} in "
               f"{fmt.human_count(sum(row['count'] for row in rows))} allocations")
    out.append("")
    if not rows:
        out.append("Nothing was selected: no allocation matches.")
        return "\n".join(out)
    shown = rows[:top]
    cells = [[fmt.human_bytes(row["bytes"]), fmt.percent(row["bytes"], selected),
              fmt.human_count(row["count"]),
              fmt.location((row["function"], labels.get(row["file"], row["file"]), row["line"]))]
             for row in shown]
    rest = selected - sum(row["bytes"] for row in shown)
    if len(shown) < len(rows):
        cells.append([fmt.human_bytes(rest), fmt.percent(rest, selected), "",
                      f"({len(rows) - len(shown)} other locations)"])
    out.append(f"Top {len(shown)} location{'s' if len(shown) != 1 else ''}:")
    out.append(fmt.table(("bytes", "%", "count", "location"), cells, align="rrrl", indent="  "))
    return "\n".join(out)


def _leaked_bytes(report) -> int:
    """What was still allocated at the end of the cell (under the --thread,
    --include and --exclude filters), whatever the selection: the location
    rows carry it for every selection."""
    return sum(row[5] for row in report.locations())
