"""``memlyze stats FILE [--json]``: the figures of a whole capture (SPEC section 2)."""

from __future__ import annotations

import json

from .. import formatting as fmt
from ._captures import add_files, load_processes
from ._common import UsageError, load_summary, make_parser, positive_int, report_truncation
from ._selectors import add_selectors, load_report, selectors_given

DESCRIPTION = ("totals, peak and when, leaks, allocator mix, size histogram, "
               "top locations, GC summary")


def build_parser():
    from .stats_selection import SELECTION_HELP

    parser = make_parser("stats", DESCRIPTION, epilog=SELECTION_HELP)
    add_files(parser)
    parser.add_argument("--json", action="store_true",
                        help="print the figures as JSON (the keys of SPEC section 2)")
    parser.add_argument("-n", "--top", type=positive_int, default=10, metavar="N",
                        help="locations in each top list (default: 10)")
    add_selectors(parser, native_frames=False)
    return parser


def add_selection(summary: dict, path: str, options) -> None:
    """With a selector given: the selection's figures under summary["selection"]."""
    if selectors_given(options):
        from memlyze.reports.selection_figures import selection_figures

        summary["selection"] = selection_figures(load_report(path, options), options.top)


def text(summary: dict, path: str) -> str:
    if "selection" in summary:
        from .stats_selection import render_selected

        return render_selected(summary, path)
    return render(summary, path)


def main(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    if len(options.file) > 1:
        return several(options)
    summary = load_summary(options.file[0], options.top)
    add_selection(summary, options.file[0], options)
    if "selection" not in summary:  # load_report has said it
        report_truncation(summary, options.file[0])
    if options.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(text(summary, options.file[0]))
    return 0


MERGED_SUMS = ("total_allocations", "total_bytes", "peak_bytes", "leaked_bytes",
               "leaked_allocations")


def merged_figures(ordered) -> dict:
    """The figures of several processes together: sums (peaks each at its
    own time) and the top locations summed by location."""
    from memlyze.reports.process_tree import merge_locations

    merged = {key: sum(process.summary.get(key) or 0 for process in ordered)
              for key in MERGED_SUMS}
    for key in ("top_by_peak", "top_by_total", "top_by_count", "top_leaks"):
        merged[key] = merge_locations([process.summary.get(key) or [] for process in ordered])
    return merged


def several(options) -> int:
    """stats of several captures: the process tree, then each capture's
    figures (or, with --merge, their sums)."""
    from memlyze.reports import process_tree

    if options.merge and selectors_given(options):
        raise UsageError("stats: --merge sums whole-run figures; a selection "
                         f"({', '.join(selectors_given(options))}) is shown per capture, "
                         "without --merge")
    ordered = load_processes(options.file, options.top)
    for process in ordered:
        add_selection(process.summary, process.path, options)
    if options.json:
        document = {"processes": process_tree.as_json(ordered),
                    "captures": {process.path: process.summary for process in ordered}}
        if options.merge:
            document["merged"] = merged_figures(ordered)
        print(json.dumps(document, indent=2, default=str))
        return 0
    sections = [process_tree.render(ordered)]
    if options.merge:
        merged = merged_figures(ordered)
        sections.append("\n".join([
            "All processes (merged):",
            f"  Allocations:     {fmt.human_count(merged['total_allocations'])}",
            f"  Total allocated: {fmt.human_bytes(merged['total_bytes'])}",
            f"  Peaks summed:    {fmt.human_bytes(merged['peak_bytes'])} (each process at its "
            "own peak)",
            f"  Leaked:          {fmt.human_bytes(merged['leaked_bytes'])}",
            "", "Top locations at the peaks (by bytes held):",
            _locations(merged["top_by_peak"][:options.top], merged["peak_bytes"])]))
    else:
        sections += [text(process.summary, process.path) for process in ordered]
    print("\n\n".join(sections))
    return 0


def _estimate(summary: dict, key: str) -> str:
    interval = summary.get(f"{key}_ci95")
    if summary.get("sampled") and interval:
        return f" (95% CI {fmt.human_bytes(interval[0])} – {fmt.human_bytes(interval[1])})"
    return ""


def _locations(entries, total) -> str:
    """A table of location entries; ``total`` None means ranked by count."""
    if not entries:
        return "  (none)"
    if total is None:
        rows = [(fmt.human_count(entry.get("count")), fmt.human_bytes(entry.get("bytes")),
                 fmt.location(entry)) for entry in entries]
        return fmt.table(("count", "bytes", "location"), rows, align="rrl", indent="  ")
    rows = [(fmt.human_bytes(entry.get("bytes")), fmt.percent(entry.get("bytes") or 0, total),
             fmt.human_count(entry.get("count")), fmt.location(entry)) for entry in entries]
    return fmt.table(("bytes", "%", "count", "location"), rows, align="rrrl", indent="  ")


def _bucket_label(low, high) -> str:
    if low == high:
        return fmt.human_bytes(low)
    return f"{fmt.human_bytes(low)} – {fmt.human_bytes(high)}"


def _gc_lines(gc) -> list[str]:
    if gc is None:
        return ["  not tracked"]
    lines = [
        f"  {fmt.counted(gc.get('collections'), 'collection')}, "
        f"{fmt.human_duration(gc.get('total_pause_s'))} total pause"
    ]
    by_generation = gc.get("by_generation")
    items = []
    if isinstance(by_generation, dict):
        items = list(by_generation.items())
    elif isinstance(by_generation, list):
        items = [(entry.get("generation", index) if isinstance(entry, dict) else index, entry)
                 for index, entry in enumerate(by_generation)]
    for generation, value in items:
        if isinstance(value, dict):
            parts = []
            for key, item in value.items():
                if key == "generation":
                    continue
                if key.endswith("_s"):
                    parts.append(f"{key.removesuffix('_s').replace('_', ' ')} {fmt.human_duration(item)}")
                else:
                    parts.append(f"{key.replace('_', ' ')} {fmt.human_count(item)}")
            lines.append(f"  generation {generation}: " + ", ".join(parts))
        else:
            lines.append(f"  generation {generation}: {fmt.counted(value, 'collection')}")
    return lines


def render(summary: dict, path: str) -> str:
    get = summary.get
    peak = get("peak_bytes") or 0
    out = []
    out.append(f"Capture:         {fmt.terminal_text(path)} (format {get('format_version')})")
    out.append(f"Command:         {fmt.terminal_text(get('command') or '-')}")
    out.append(f"Process:         pid {get('pid')}, Python {fmt.terminal_text(get('python_version'))}")
    if get("free_threaded"):
        out.append("Free-threaded:   Python objects come from mimalloc, not malloc, so the Python "
                   "allocator domains were recorded (as with --python-allocators)")
    if get("truncated"):
        out.append("                 (truncated capture: figures cover what was written)")
    if get("sampled"):
        interval = get("sample_interval")
        how = (f"one sample every {fmt.human_bytes(interval)} on average" if interval
               else f"sample rate {get('sample_rate')}")
        out.append(f"Sampled:         {how}; byte figures are estimates of the whole")
    if get("aggregated"):
        out.append("Aggregated:      recorded with --aggregate: per-stack totals of its latest "
                   "snapshot; leaks are what was alive then (no sizes, allocators, GC, RSS "
                   "or temporary allocations)")
    if get("ring"):
        from memlyze.reports.report_data import ring_note

        out.append(f"Ring dump:       {ring_note(get('ring'))}")
    out.append(f"Duration:        {fmt.human_duration(get('duration_s'))}")
    out.append(f"Allocations:     {fmt.human_count(get('total_allocations'))}")
    out.append(f"Total allocated: {fmt.human_bytes(get('total_bytes'))}{_estimate(summary, 'total_bytes')}")
    out.append(f"Peak memory:     {fmt.human_bytes(peak)} at {fmt.human_duration(get('peak_time_s'))}"
               f"{_estimate(summary, 'peak_bytes')}")
    out.append(f"Leaked:          {fmt.human_bytes(get('leaked_bytes'))} in "
               f"{fmt.human_count(get('leaked_allocations'))} allocation(s) (alive when tracking stopped)")
    out.append(f"RSS peak:        {fmt.human_bytes(get('rss_peak_bytes'))}")
    out.append(f"Untracked RSS:   {fmt.human_bytes(get('untracked_rss_bytes'))} at the peak "
               "(resident memory no tracked allocation explains)")
    tracker_memory = get("tracker_memory_bytes")
    # None: the capture has no footer (the recorder was killed), so unknown, not 0 B.
    out.append("Tracker memory:  " + ("unknown (the capture has no footer)" if tracker_memory is None
                                      else f"{fmt.human_bytes(tracker_memory)} at its peak"))

    allocators = get("allocators") or {}
    out.append("")
    out.append("Allocators:")
    if allocators:
        most = max((value.get("bytes") or 0) for value in allocators.values()) or 1
        rows = [
            (fmt.terminal_text(name), fmt.human_count(value.get("count")),
             fmt.human_bytes(value.get("bytes")),
             fmt.bar((value.get("bytes") or 0) / most, 20))
            for name, value in sorted(allocators.items(), key=lambda item: -(item[1].get("bytes") or 0))
        ]
        out.append(fmt.table(("allocator", "count", "bytes", ""), rows, align="lrrl", indent="  "))
    else:
        out.append("  (none)")

    histogram = get("size_histogram") or []
    out.append("")
    out.append("Allocation sizes:")
    if histogram:
        most = max(bucket.get("count") or 0 for bucket in histogram) or 1
        rows = [
            (_bucket_label(bucket.get("min"), bucket.get("max")),
             fmt.human_count(bucket.get("count")), fmt.bar((bucket.get("count") or 0) / most, 30))
            for bucket in histogram
        ]
        out.append(fmt.table(("size", "count", ""), rows, align="rrl", indent="  "))
    else:
        out.append("  (none)")

    sections = (
        ("Top locations at the peak (by bytes held)", "top_by_peak", peak),
        ("Top locations by bytes allocated", "top_by_total", get("total_bytes") or 0),
        ("Top locations by number of allocations", "top_by_count", None),
        ("Top leaks (alive when tracking stopped)", "top_leaks", get("leaked_bytes") or 0),
    )
    for title, key, total in sections:
        out.append("")
        out.append(f"{title}:")
        out.append(_locations(get(key) or [], total))

    out.append("")
    out.append("Garbage collection:")
    out.extend(_gc_lines(get("gc")))
    return "\n".join(out)
