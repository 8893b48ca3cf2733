"""Own and total figures by function (``memlyze summary --by-function``).

A function is (function name, file): every line of it counts together.
- own: what its frame allocated itself (the stacks whose innermost frame is
  it);
- total: what it or its callees allocated (every stack it is on), counted
  once per stack even when the function is on it several times (recursion).
Counts are the same, in allocations.

Computed from an exact call tree (report_data.Report.tree with nothing
folded): a node's inclusive figures are added to a function's total only at
the function's outermost node on each path, so no allocation is counted
twice for one function.
"""

from __future__ import annotations

from .report_data import node_names

SORT_KEYS = {"own": "own_bytes", "total": "total_bytes", "count": "total_count"}


def exact_tree(report) -> dict:
    return report.tree(other_fraction=0.0, max_nodes=2**62)


def function_rows(tree: dict, names) -> list[dict]:
    """One dict per function: function, file, own_bytes, own_count,
    total_bytes, total_count; unordered. Root, thread and process nodes
    (file "" and no parent frame) are not functions; the no-Python-frame node
    is one (it owns what was allocated with no Python frame)."""
    nodes = tree["nodes"]
    kinds = nodes.get("kind") or ["frame"] * len(nodes["parent"])
    children: list[list[int]] = [[] for _ in nodes["parent"]]
    for index, parent in enumerate(nodes["parent"]):
        if parent >= 0:
            children[parent].append(index)
    rows: dict[tuple, dict] = {}
    on_path: dict[tuple, int] = {}
    pending = [(0, False)]
    while pending:
        index, leaving = pending.pop()
        key = _function_key(kinds[index], names[index])
        if leaving:
            if key is not None:
                on_path[key] -= 1
            continue
        if key is not None:
            row = rows.setdefault(key, {"function": key[0], "file": key[1], "own_bytes": 0,
                                        "own_count": 0, "total_bytes": 0, "total_count": 0})
            row["own_bytes"] += nodes["self_bytes"][index]
            row["own_count"] += nodes["self_count"][index]
            if not on_path.get(key):
                row["total_bytes"] += nodes["bytes"][index]
                row["total_count"] += nodes["count"][index]
            on_path[key] = on_path.get(key, 0) + 1
        pending.append((index, True))
        pending.extend((child, False) for child in children[index])
    return [row for row in rows.values() if row["total_bytes"] or row["total_count"]]


def _function_key(kind: str, name) -> tuple | None:
    if kind in ("frame", "no_frame"):
        return name[0], name[1]
    return None


def report_function_rows(report) -> list[dict]:
    """function_rows of a report's selection (or of every capture of a
    MergedReport: each allocation belongs to one process, so rows add up)."""
    reports = getattr(report, "reports", None) or [report]
    merged: dict[tuple, dict] = {}
    for single in reports:
        tree = exact_tree(single)
        for row in function_rows(tree, node_names(tree, single)):
            into = merged.setdefault((row["function"], row["file"]), dict(row, own_bytes=0,
                                     own_count=0, total_bytes=0, total_count=0))
            for name in ("own_bytes", "own_count", "total_bytes", "total_count"):
                into[name] += row[name]
    return list(merged.values())


def sorted_function_rows(rows: list[dict], sort: str) -> list[dict]:
    key = SORT_KEYS[sort]
    return sorted(rows, key=lambda row: (-row[key], -row["total_bytes"], -row["own_bytes"],
                                         row["function"], row["file"]))
