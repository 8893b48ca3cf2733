"""``memlyze summary FILE``: the locations holding the most memory at the peak.

With a selector (--leaks, --temporary, --snapshot, --thread, --include,
--exclude) the top locations of that selection; with --by-function the
own/total table by function (summary_views.py).
"""

from __future__ import annotations

from .. import formatting as fmt
from ._captures import add_files, load_processes
from ._common import UsageError, load_summary, make_parser, positive_int, report_truncation
from ._selectors import SELECTOR_HELP, add_selectors, selectors_given

DESCRIPTION = "table of the locations holding the most memory at the peak"


def build_parser():
    parser = make_parser("summary", DESCRIPTION, epilog=SELECTOR_HELP)
    add_files(parser)
    parser.add_argument("-n", "--top", type=positive_int, default=10, metavar="N",
                        help="number of locations (or functions) to show (default: 10)")
    parser.add_argument("--by-function", action="store_true",
                        help="a table by function: own bytes (allocated in the function itself) "
                             "and total bytes (in it or its callees)")
    parser.add_argument("--sort", choices=("own", "total", "count"), default=None,
                        help="with --by-function: order of the rows (default: total)")
    add_selectors(parser)
    return parser


def check_options(options) -> None:
    """Refuses the options that only --by-function reads."""
    if options.by_function:
        return
    if options.sort is not None:
        raise UsageError("summary: --sort needs --by-function (locations are ordered by bytes)")
    if options.native_frames != "trimmed":
        raise UsageError("summary: --native-frames needs --by-function (a location is a Python "
                         "line)")


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
    if summary.get("ring"):
        from memlyze.reports.report_data import ring_note

        out.append(ring_note(summary["ring"]))
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


def render_merged(ordered, top: int, width: int | None = None) -> str:
    """One table of the locations of every process, summed (each process
    counted at its own peak)."""
    from memlyze.reports.process_tree import merge_locations

    merged = {
        "command": f"{len(ordered)} processes, from {ordered[0].command or '-'}",
        "peak_bytes": sum(process.peak_bytes for process in ordered),
        "leaked_bytes": sum(process.summary.get("leaked_bytes") or 0 for process in ordered),
        "sampled": any(process.summary.get("sampled") for process in ordered),
        "top_by_peak": merge_locations([process.summary.get("top_by_peak") or []
                                        for process in ordered]),
    }
    text = render(merged, "all processes (merged)", top, width)
    lines = text.splitlines()
    lines[1] = (f"Peaks summed: {fmt.human_bytes(merged['peak_bytes'])} (each process at its own "
                f"peak); leaked {fmt.human_bytes(merged['leaked_bytes'])}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    check_options(options)
    import sys

    width = fmt.terminal_width() if sys.stdout.isatty() else None
    if options.by_function or selectors_given(options):
        print(selected_views(options, width))
        return 0
    if len(options.file) == 1:
        summary = load_summary(options.file[0], options.top)
        report_truncation(summary, options.file[0])
        print(render(summary, options.file[0], options.top, width))
        return 0
    from memlyze.reports import process_tree

    # Merged locations are summed from each capture's top list: read longer
    # lists so that a location large only in sum still shows.
    depth = max(options.top * 10, 100) if options.merge else options.top
    ordered = load_processes(options.file, depth)
    sections = [process_tree.render(ordered)]
    if options.merge:
        sections.append(render_merged(ordered, options.top, width))
    else:
        sections += [render(process.summary, process.path, options.top, width)
                     for process in ordered]
    print("\n\n".join(sections))
    return 0


def selected_view(report, path: str, options, width: int | None) -> str:
    from memlyze.reports.exports import location_rows
    from memlyze.reports.function_totals import report_function_rows, sorted_function_rows

    from . import summary_views

    if options.by_function:
        sort = options.sort or "total"
        rows = sorted_function_rows(report_function_rows(report), sort)
        return summary_views.functions_text(report, rows, path, options.top, sort, width)
    merged_rows = getattr(report, "location_rows", None)  # a MergedReport
    rows = merged_rows() if merged_rows else location_rows(report)
    return summary_views.locations_text(report, rows, path, options.top, width)


def selected_views(options, width: int | None) -> str:
    """The selection's view of one capture, or the process tree and then each
    capture's (or, with --merge, the processes' together)."""
    from ._captures import load_merged, tree_of
    from ._selectors import load_report

    if len(options.file) == 1:
        path = options.file[0]
        return selected_view(load_report(path, options), path, options, width)
    merged = load_merged(options.file, options)
    sections = [tree_of(merged)]
    if options.merge:
        sections.append(selected_view(merged, "all processes (merged)", options, width))
    else:
        sections += [selected_view(report, process.path, options, width)
                     for process, report in zip(merged.processes, merged.reports)]
    return "\n\n".join(sections)
