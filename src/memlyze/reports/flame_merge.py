"""One flame graph of several captures (``memlyze flamegraph --merge
app.mlyze*``): the root's children are the processes, in process-tree order,
each holding its capture's tree of the selection; the memory-over-time chart
sums the processes' heaps (and RSS) on one clock, the earliest start at 0."""

from __future__ import annotations

from . import process_tree
from .flame_data import MAX_FOLDED_FRACTION, MAX_NODES, _meta
from .string_table import StringTable
from .report_data import node_names, open_report


def _summed_series(series: list[list[tuple[float, int]]]) -> tuple[list[float], list[int]]:
    """Step functions (time, value) of several processes summed: at each
    change of one, the sum of the latest value of each."""
    events = sorted((time, index, value) for index, points in enumerate(series)
                    for time, value in points)
    latest = [0] * len(series)
    times, values = [], []
    for time, index, value in events:
        latest[index] = value
        times.append(time)
        values.append(sum(latest))
    return times, values


def build_merged_flame_data(paths, *, selection="peak", snapshot=None, thread=None,
                            include=(), exclude=(), inverted=False, temporary_threshold=1,
                            min_share=0.0, max_nodes=MAX_NODES, native_frames="trimmed",
                            progress="auto") -> dict:
    """The flame graph data (flame_data's shape) of several captures."""
    reports, processes = {}, []
    for path in dict.fromkeys(str(path) for path in paths):
        report = open_report(path, selection=selection, snapshot=snapshot, thread=thread,
                             include=include, exclude=exclude,
                             temporary_threshold=temporary_threshold, progress=progress)
        reports[path] = report
        header, summary = report.header, report.summary
        processes.append(process_tree.Process(path, {
            "pid": header["pid"], "parent_pid": header.get("parent_pid"),
            "command": header["command"], "start_time_ns": header.get("start_time_ns") or 0,
            "peak_bytes": summary["peak_bytes"], "total_bytes": summary["total_bytes"]}))
    ordered = process_tree.build(processes)
    per_capture = max(max_nodes // max(len(ordered), 1), 1000)
    parts, trees = [], []
    for process in ordered:
        report = reports[process.path]
        report.all_native_frames = native_frames == "all"
        tree = report.tree(inverted=bool(inverted), other_fraction=float(min_share),
                           max_nodes=per_capture, max_folded_fraction=MAX_FOLDED_FRACTION)
        trees.append(tree)
        parts.append((process.label, tree, node_names(tree, report)))
    merged, names = process_tree.merge_trees(parts)
    strings = StringTable()
    nodes = {
        "parent": merged["nodes"]["parent"],
        "function": [strings(function) for function, _, _ in names],
        "file": [strings(file) for _, file, _ in names],
        "line": [line for _, _, line in names],
        "bytes": merged["nodes"]["bytes"],
        "count": merged["nodes"]["count"],
        "self_bytes": merged["nodes"]["self_bytes"],
    }
    first = min(process.start_time_ns for process in ordered)

    def shifted(process, name):
        offset = (process.start_time_ns - first) / 1e9
        return [(offset + time_ns / 1e9, value)
                for time_ns, value in reports[process.path].series(name)]

    heap_time, heap = _summed_series([shifted(process, "heap") for process in ordered])
    rss_time, rss = _summed_series([shifted(process, "rss") for process in ordered])
    gc_time = sorted(time for process in ordered for time, _ in shifted(process, "gc"))
    peak_index = max(range(len(heap)), key=heap.__getitem__) if heap else None
    top = reports[ordered[0].path]
    meta = _meta(top, {"nodes": merged["nodes"], "truncated": merged["truncated"],
                       "other_threshold": max(tree["other_threshold"] for tree in trees),
                       "folded_count": sum(tree["folded_count"] for tree in trees),
                       "folded_bytes": sum(tree["folded_bytes"] for tree in trees)},
                 inverted, False, float(min_share))
    end = max((process.start_time_ns - first) / 1e9
              + reports[process.path].summary["end_time_ns"] / 1e9 for process in ordered)
    meta.update({
        "command": f"{len(ordered)} processes: {ordered[0].command}",
        "duration_s": end,
        "peak_bytes": heap[peak_index] if peak_index is not None else 0,
        "peak_time_s": heap_time[peak_index] if peak_index is not None else 0.0,
        "selection_label": top.selection_label().split(" (")[0] + " of each process",
        "sampled": any(report.sampled for report in reports.values()),
        "capture_truncated": any(report.header["truncated"] for report in reports.values()),
        "merged_processes": process_tree.as_json(ordered),
    })
    return {
        "meta": meta,
        "strings": strings.table,
        "nodes": nodes,
        "timeline": {"time_s": heap_time, "heap_bytes": heap, "rss_time_s": rss_time,
                     "rss_bytes": rss, "gc_time_s": gc_time,
                     "peak_time_s": meta["peak_time_s"], "peak_bytes": meta["peak_bytes"]},
        "temporal": None,
    }
