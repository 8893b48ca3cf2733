"""Export formats written from a report (``report_data.Report``):

- collapsed: ``outer;...;inner BYTES`` lines (flamegraph.pl, inferno); a
  frame is ``function (file:line)``; lines sum to the selection's bytes;
- speedscope: speedscope's file format, one "sampled" profile whose samples
  are the stacks (outermost frame first) weighted by bytes;
- csv / json: one row per location (innermost frame): the selection's bytes
  and count, what was leaked, what was allocated in total, what was held at
  the peak.
pprof is written by the C engine (``Report.export_pprof``).

The trees used here are exact (nothing folded into "other").
"""

from __future__ import annotations

import csv
import io
import json

from .report_data import NO_PYTHON_FRAME, node_names

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
LOCATION_FIELDS = ("function", "file", "line", "bytes", "count", "leaked_bytes", "leaked_count",
                   "total_bytes", "total_count", "peak_bytes", "peak_count")


def exact_tree(report) -> dict:
    """The selection's call tree with every node (no "other" folding)."""
    return report.tree(other_fraction=0.0, max_nodes=2**62)


def _paths(tree: dict, report):
    """Yields (frame names outermost first, self bytes) for each node holding bytes."""
    nodes = tree["nodes"]
    names = node_names(tree, report)
    labels = []
    for function, file, line in names:
        labels.append(f"{function} ({file}:{line})" if file else function)
    parents = nodes["parent"]
    for index, self_bytes in enumerate(nodes["self_bytes"]):
        if index == 0 or self_bytes == 0:
            continue
        path = []
        node = index
        while node > 0:
            path.append(node)
            node = parents[node]
        yield [labels[node] for node in reversed(path)], [names[node] for node in reversed(path)], \
            self_bytes


def collapsed(report) -> str:
    lines = []
    for labels, _, nbytes in _paths(exact_tree(report), report):
        clean = [label.replace(";", ":").replace("\n", " ").replace("\r", " ") for label in labels]
        lines.append(f"{';'.join(clean)} {nbytes}")
    return "\n".join(lines) + ("\n" if lines else "")


def speedscope(report, name: str) -> dict:
    frames, frame_index, samples, weights = [], {}, [], []
    for _, names, nbytes in _paths(exact_tree(report), report):
        stack = []
        for function, file, line in names:
            key = (function, file, line)
            if key not in frame_index:
                frame = {"name": function}
                if file:
                    frame["file"] = file
                    frame["line"] = line
                frame_index[key] = len(frames)
                frames.append(frame)
            stack.append(frame_index[key])
        samples.append(stack)
        weights.append(nbytes)
    from memlyze import __version__

    total = sum(weights)
    return {
        "$schema": SPEEDSCOPE_SCHEMA,
        "shared": {"frames": frames},
        "profiles": [{
            "type": "sampled",
            "name": f"{name}: {report.selection_label()}",
            "unit": "bytes",
            "startValue": 0,
            "endValue": total,
            "samples": samples,
            "weights": weights,
        }],
        "name": name,
        "activeProfileIndex": 0,
        "exporter": f"memlyze {__version__}",
    }


def location_rows(report) -> list[dict]:
    """One dict per location (function, file, line), largest selected bytes first."""
    merged: dict[tuple, list] = {}
    for row in report.locations():
        key = tuple(row[:3])
        figures = merged.setdefault(key, [0] * 8)
        for position, value in enumerate(row[3:]):
            figures[position] += value
    rows = [dict(zip(LOCATION_FIELDS, (*key, *figures))) for key, figures in merged.items()]
    rows.sort(key=lambda row: (-row["bytes"], -row["count"], -row["total_bytes"], row["function"],
                               row["file"], row["line"]))
    return rows


def locations_csv(report) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=LOCATION_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in location_rows(report):
        writer.writerow(row)
    return out.getvalue()


def locations_json(report) -> dict:
    summary = report.summary
    return {
        "command": report.header["command"],
        "selection": report.selection,
        "selection_label": report.selection_label(),
        "sampled": report.sampled,
        "sample_description": report.sample_description,
        "peak_bytes": summary["peak_bytes"],
        "total_bytes": summary["total_bytes"],
        "total_count": summary["total_count"],
        "locations": location_rows(report),
    }


def is_no_frame(function: str, file: str) -> bool:
    return function == NO_PYTHON_FRAME and not file


def dumps(data) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"
