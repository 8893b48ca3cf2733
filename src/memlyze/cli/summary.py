"""``memlyze summary FILE``: the locations holding the most memory at the peak."""

from __future__ import annotations

from .. import formatting as fmt
from ._common import load_summary, make_parser, positive_int, report_truncation

DESCRIPTION = "table of the locations holding the most memory at the peak"


def build_parser():
    parser = make_parser("summary", DESCRIPTION)
    parser.add_argument("file", metavar="FILE", help="capture file (.mlyze)")
    parser.add_argument("-n", "--top", type=positive_int, default=10, metavar="N",
                        help="number of locations to show (default: 10)")
    return parser


def render(summary: dict, path: str, top: int, width: int | None = None) -> str:
    peak = summary.get("peak_bytes") or 0
    entries = list(summary.get("top_by_peak") or [])[:top]
    out = [
        f"{fmt.terminal_text(path)}: {fmt.terminal_text(summary.get('command') or '-')}",
        f"Peak memory {fmt.human_bytes(peak)} at {fmt.human_duration(summary.get('peak_time_s'))}"
        f" of {fmt.human_duration(summary.get('duration_s'))}; "
        f"leaked {fmt.human_bytes(summary.get('leaked_bytes'))}",
    ]
    if summary.get("sampled"):
        out.append("Sampled capture: byte figures are estimates of the whole.")
    if summary.get("aggregated"):
        from memlyze.reports.report_data import AGGREGATE_NOTE

        out.append(AGGREGATE_NOTE)
    out.append("")
    if not entries:
        out.append("No memory was held by tracked allocations at the peak.")
        return "\n".join(out)
    out.append(f"Top {len(entries)} location{'s' if len(entries) != 1 else ''} holding memory at the peak:")
    out.append("")
    rows = []
    shown = 0
    for entry in entries:
        nbytes = entry.get("bytes") or 0
        shown += nbytes
        rows.append([fmt.human_bytes(nbytes), fmt.percent(nbytes, peak),
                     fmt.human_count(entry.get("count")), fmt.location(entry)])
    rest = peak - shown
    if rest > 0 and len(entries) == top:
        rows.append([fmt.human_bytes(rest), fmt.percent(rest, peak), "", "(all other locations)"])
    if width:
        # Keep each row on one line of the terminal: shorten file paths.
        fixed = max(len(row[0]) for row in rows) + max(len(row[1]) for row in rows) + \
            max(max(len(row[2]) for row in rows), 5) + 2 * 3 + 2
        room = max(width - fixed, 30)
        for row in rows:
            if len(row[3]) > room:
                function, _, where = row[3].partition(" ")
                row[3] = f"{function} {fmt.shorten_path(where, max(room - len(function) - 1, 12))}"
    out.append(fmt.table(("bytes", "%", "count", "location"), rows, align="rrrl", indent="  "))
    out.extend(render_native_stacks(entries))
    return "\n".join(out)


NATIVE_FRAMES_SHOWN = 24


def render_native_stacks(entries) -> list[str]:
    """For a --native capture: the merged native and Python stack of the
    largest allocation at each location, innermost first."""
    lines = []
    for entry in entries:
        stack = entry.get("native_stack")
        if not stack:
            continue
        if not lines:
            lines += ["", "Native and Python stack of the largest allocation at each location "
                          "(innermost first; [py] marks Python frames):"]
        lines += ["", f"  {fmt.location(entry)}"]
        for function, file, line, kind in stack[:NATIVE_FRAMES_SHOWN]:
            file = fmt.terminal_text(file)
            where = f" {file}:{line}" if file and line else (f" {file}" if file else "")
            lines.append(f"    {'[py] ' if kind == 'python' else ''}{fmt.terminal_text(function)}"
                         f"{where}")
        if len(stack) > NATIVE_FRAMES_SHOWN:
            lines.append(f"    ... {len(stack) - NATIVE_FRAMES_SHOWN} more frames")
    return lines


def main(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    summary = load_summary(options.file, options.top)
    report_truncation(summary, options.file)
    import sys

    width = fmt.terminal_width() if sys.stdout.isatty() else None
    print(render(summary, options.file, options.top, width))
    return 0
