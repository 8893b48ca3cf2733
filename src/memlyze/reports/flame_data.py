"""The data behind the flame graph page: ``build_flame_data(path, ...) -> dict``.

Everything is aggregated in C (``memlyze._memlyze.ReportCollection``): the
capture is read once, the call tree is built and bounded there, so the dict
stays small (at most ~50,000 nodes) whatever the capture's size.

Shape (the HTML page codes against it)::

    {"meta": {"command", "pid", "python_version", "duration_s", "peak_bytes",
              "peak_time_s", "total_bytes", "total_count", "selection",
              "selection_label", "inverted", "sampled", "sample_description",
              "truncated", "node_count", "other_threshold_bytes",
              "folded_count", "folded_bytes", "min_share", "native_frames",
              # extra keys: "capture_truncated", "truncation_note",
              # "split_threads", "temporary_threshold", "snapshot_count",
              # "aggregated", "aggregate_note" (what an --aggregate capture lacks, or None)},
     "strings": ["", ...],
     "nodes": {"parent", "function", "file", "line", "bytes", "count", "self_bytes"},
     "timeline": {"time_s", "heap_bytes", "rss_time_s", "rss_bytes", "gc_time_s",
                  "peak_time_s", "peak_bytes"},
     "marks": None or {"thread": [node], "trimmed": [node]},
     "temporal": None or {"bucket_edges_s", "node", "alloc_bucket", "free_bucket",
                          "bytes", "count"}}

meta["truncated"] says the tree was bounded: nodes below
``other_threshold_bytes`` were folded into "other" nodes (function "other",
file ""): folded_count frames of the full tree, holding folded_bytes. Frames
are folded only past a budget of max_nodes nodes, and never more than
MAX_FOLDED_FRACTION of the selection, unless min_share (a fraction of the
selection: frames below it are folded) asks for more. Whether the *capture*
was cut short (its process killed) is meta["capture_truncated"]. Node 0 is the root "<all>"; parents precede
children; bytes and count are inclusive. total_bytes / total_count are the
root's: the selected memory. With temporal=True the tree holds every stack
that allocated (its figures still those of the selection) and "temporal"
lists, per node whose allocations end there, the allocations by (alloc time
bucket, free time bucket or -1 for never freed), so a page can compute
"allocated in [t0, t1] and alive at t1" for any bucket range itself.
Names and files are untrusted text from the profiled program.

With page_controls=True the data carries what the page's controls need to
change the view without a new page ("marks"): the tree is split by thread
(marks["thread"]: the thread nodes, below the root; meta["split_threads"]
says whether the page starts with them shown or merged), and a --native
capture's tree keeps every native frame, the ones trimmed paths leave out
being nodes of their own (marks["trimmed"]; meta["native_frames"] says
whether the page starts with them hidden). The page merges the children of
a hidden node into its parent's, so the 50,000-node budget holds for every
view. Import machinery frames (importlib's bootstrap) are known on the page
by their file names.
"""

from __future__ import annotations

from .report_data import AGGREGATE_NOTE, node_names, open_report
from .string_table import StringTable

MAX_NODES = 50_000           # tens of thousands of frames draw smoothly on a canvas
MAX_FOLDED_FRACTION = 0.01   # the budget never folds more of the selection than this


def _nodes(tree: dict, report, strings: StringTable) -> dict:
    nodes = tree["nodes"]
    names = node_names(tree, report)
    return {
        "parent": list(nodes["parent"]),
        "function": [strings(function) for function, _, _ in names],
        "file": [strings(file) for _, file, _ in names],
        "line": [line for _, _, line in names],
        "bytes": list(nodes["bytes"]),
        "count": list(nodes["count"]),
        "self_bytes": list(nodes["self_bytes"]),
    }


def _timeline(report) -> dict:
    heap = report.series("heap")
    rss = report.series("rss")
    gc = report.series("gc")
    summary = report.summary
    return {
        "time_s": [time_ns / 1e9 for time_ns, _ in heap],
        "heap_bytes": [value for _, value in heap],
        "rss_time_s": [time_ns / 1e9 for time_ns, _ in rss],
        "rss_bytes": [value for _, value in rss],
        "gc_time_s": [time_ns / 1e9 for time_ns, _ in gc],
        "peak_time_s": summary["peak_time_ns"] / 1e9,
        "peak_bytes": summary["peak_bytes"],
    }


def _temporal(tree: dict, report) -> dict:
    summary = report.summary
    width = summary["bucket_width_ns"]
    count = summary["bucket_count"]
    intervals = tree["intervals"] or []
    return {
        "bucket_edges_s": [index * width / 1e9 for index in range(count + 1)],
        "node": [entry[0] for entry in intervals],
        "alloc_bucket": [entry[1] for entry in intervals],
        "free_bucket": [entry[2] for entry in intervals],
        "bytes": [entry[3] for entry in intervals],
        "count": [entry[4] for entry in intervals],
    }


def _marks(tree: dict) -> dict:
    nodes = tree["nodes"]
    return {
        "thread": [index for index, kind in enumerate(nodes["kind"]) if kind == "thread"],
        "trimmed": [index for index, trimmed in enumerate(nodes["trimmed"]) if trimmed],
    }


def _meta(report, tree: dict, inverted: bool, split_threads: bool, min_share: float) -> dict:
    header, summary = report.header, report.summary
    nodes = tree["nodes"]
    return {
        "command": header["command"],
        "pid": header["pid"],
        "python_version": header["python_version"],
        "duration_s": summary["end_time_ns"] / 1e9,
        "peak_bytes": summary["peak_bytes"],
        "peak_time_s": summary["peak_time_ns"] / 1e9,
        "total_bytes": nodes["bytes"][0] if nodes["bytes"] else 0,
        "total_count": nodes["count"][0] if nodes["count"] else 0,
        "selection": report.selection,
        "selection_label": report.selection_label(),
        "inverted": bool(inverted),
        "sampled": report.sampled,
        "sample_description": report.sample_description,
        "truncated": bool(tree["truncated"]),
        "node_count": len(nodes["parent"]),
        "other_threshold_bytes": tree["other_threshold"],
        "folded_count": tree["folded_count"],
        "folded_bytes": tree["folded_bytes"],
        "min_share": min_share,
        "native_frames": "all" if report.all_native_frames else "trimmed",
        "capture_truncated": bool(header["truncated"]),
        "truncation_note": header["truncation_note"],
        "split_threads": bool(split_threads),
        "temporary_threshold": report.temporary_threshold,
        "snapshot_count": summary["snapshot_count"],
        "aggregated": report.aggregated,
        "aggregate_note": AGGREGATE_NOTE if report.aggregated else None,
        "ring_note": report.ring_note,
    }


def build_flame_data(path, *, selection="peak", snapshot=None, thread=None, split_threads=False,
                     include=(), exclude=(), inverted=False, temporal=False,
                     temporary_threshold=1, min_share=0.0, max_nodes=MAX_NODES,
                     native_frames="trimmed", time_range=None, progress="auto",
                     page_controls=False) -> dict:
    """The flame graph data of the capture at path (see the module docstring).

    selection: "peak" (default), "leaks", "temporary", "snapshot" (with
    snapshot=K, 1-based) or "total"; thread: a thread id or name; include /
    exclude: fnmatch patterns tested against each frame's function, file path,
    file base name and module. progress: "auto" shows a bar on stderr when it is a
    terminal; None for none; or a callable(bytes_read, file_bytes).
    min_share: frames holding less than this fraction of the selection are
    folded into "other" (0: only the node budget folds, never more than
    MAX_FOLDED_FRACTION of the selection).
    native_frames: "trimmed" (default) or "all" (see report_merged_paths.h).
    time_range=(t0, t1) in seconds selects what was allocated within it and
    is still alive at t1 (selection "range").
    page_controls: also what the page needs to choose a thread and to show
    or hide interpreter frames (see the module docstring).
    Raises OSError or CaptureError for unreadable captures and ValueError
    (ReportError) for selectors the capture cannot satisfy.
    """
    range_ns = None
    if time_range is not None:
        start, end = time_range
        selection, range_ns = "range", (max(int(start * 1e9), 0), max(int(end * 1e9), 0))
    report = open_report(path, selection=selection, snapshot=snapshot, thread=thread,
                         include=include, exclude=exclude,
                         temporary_threshold=temporary_threshold, temporal=temporal,
                         range_ns=range_ns, progress=progress)
    report.all_native_frames = native_frames == "all"
    controls = {"all_native_frames": True, "mark_trimmed_frames": True} if page_controls else {}
    tree = report.tree(inverted=bool(inverted), split_threads=bool(split_threads or page_controls),
                       temporal=bool(temporal), other_fraction=float(min_share),
                       max_nodes=int(max_nodes), max_folded_fraction=MAX_FOLDED_FRACTION,
                       **controls)
    strings = StringTable()
    nodes = _nodes(tree, report, strings)
    return {
        "meta": _meta(report, tree, inverted, split_threads, float(min_share)),
        "strings": strings.table,
        "nodes": nodes,
        "timeline": _timeline(report),
        "temporal": _temporal(tree, report) if temporal else None,
        "marks": _marks(tree) if page_controls else None,
    }
