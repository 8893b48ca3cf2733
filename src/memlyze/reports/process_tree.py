"""Several captures of one recording (``--follow-subprocesses``): the
process tree they form, and reports merged across them.

A capture's header names its process (pid), the recorded process that
started it (parent_pid: by fork, subprocess or exec; an exec'd image has its
own pid as parent) and its start time. A capture's parent is the latest
capture of that pid started before it; one without is a root.
"""

from __future__ import annotations

from .. import formatting as fmt


class Process:
    """One capture in the tree: its path, header figures and place."""

    def __init__(self, path: str, summary: dict):
        self.path = str(path)
        self.summary = summary
        self.pid = summary.get("pid")
        self.parent_pid = summary.get("parent_pid")
        self.command = summary.get("command") or ""
        self.start_time_ns = summary.get("start_time_ns") or 0
        self.peak_bytes = summary.get("peak_bytes") or 0
        self.total_bytes = summary.get("total_bytes") or 0
        self.parent: "Process | None" = None
        self.children: list["Process"] = []
        self.depth = 0

    @property
    def label(self) -> str:
        return f"pid {self.pid}: {self.command or '-'}"


def build(processes: list[Process]) -> list[Process]:
    """Links each process to its parent; returns them depth first from the
    roots, each level in start order."""
    by_pid: dict = {}
    for process in processes:
        by_pid.setdefault(process.pid, []).append(process)
    for process in processes:
        if process.parent_pid is None:
            continue
        candidates = [other for other in by_pid.get(process.parent_pid, [])
                      if other is not process and other.start_time_ns <= process.start_time_ns]
        if candidates:
            process.parent = max(candidates, key=lambda other: other.start_time_ns)
            process.parent.children.append(process)
    ordered: list[Process] = []

    def visit(process, depth):
        process.depth = depth
        ordered.append(process)
        for child in sorted(process.children, key=lambda other: other.start_time_ns):
            visit(child, depth + 1)

    for root in sorted((process for process in processes if process.parent is None),
                       key=lambda other: other.start_time_ns):
        visit(root, 0)
    return ordered


def render(ordered: list[Process], width: int = 100) -> str:
    """The process tree as a text table: pid, parent, peak, allocated, capture, command."""
    rows = []
    for process in ordered:
        command = fmt.terminal_text(process.command or "-")
        if len(command) > width:
            command = command[:width - 3] + "..."
        rows.append([str(process.pid), "-" if process.parent_pid is None else str(process.parent_pid),
                     fmt.human_bytes(process.peak_bytes), fmt.human_bytes(process.total_bytes),
                     "  " * process.depth + fmt.terminal_text(process.path), command])
    title = (f"Process tree: {len(ordered)} capture{'s' if len(ordered) != 1 else ''}, "
             f"peaks {fmt.human_bytes(sum(process.peak_bytes for process in ordered))} "
             "summed (each process at its own peak)")
    return title + "\n" + fmt.table(("pid", "parent", "peak", "allocated", "capture", "command"),
                                    rows, align="rrrrll", indent="  ")


def as_json(ordered: list[Process]) -> list[dict]:
    return [{"path": process.path, "pid": process.pid, "parent_pid": process.parent_pid,
             "parent_path": process.parent.path if process.parent else None,
             "depth": process.depth, "command": process.command,
             "peak_bytes": process.peak_bytes, "total_bytes": process.total_bytes}
            for process in ordered]


def merge_locations(lists: list[list[dict]], keys=("bytes", "count")) -> list[dict]:
    """Location entries of several captures summed by (function, file, line),
    largest bytes first."""
    merged: dict = {}
    for entries in lists:
        for entry in entries:
            key = (entry.get("function"), entry.get("file"), entry.get("line"))
            into = merged.get(key)
            if into is None:
                merged[key] = into = {"function": key[0], "file": key[1], "line": key[2],
                                      "processes": 0, **{name: 0 for name in keys}}
            into["processes"] += 1
            for name in keys:
                into[name] += entry.get(name) or 0
    return sorted(merged.values(), key=lambda entry: (-entry[keys[0]], -entry.get(keys[1], 0)))


def merge_trees(parts: list[tuple[str, dict, list]]) -> tuple[dict, list]:
    """One tree whose root's children are the processes.

    parts: (process label, tree dict as Report.tree gives, its node names
    (function, file, line)). Returns (tree dict with nodes parent, bytes,
    count, self_bytes; names)."""
    parent, nbytes, count, self_bytes = [-1], [0], [0], [0]
    names = [("<all>", "", 0)]
    truncated = False
    for label, tree, tree_names in parts:
        nodes = tree["nodes"]
        base = len(parent)  # where the capture's root, now its process node, lands
        for index, node_parent in enumerate(nodes["parent"]):
            parent.append(0 if index == 0 else base + node_parent)
            nbytes.append(nodes["bytes"][index])
            count.append(nodes["count"][index])
            self_bytes.append(nodes["self_bytes"][index])
            names.append((label, "", 0) if index == 0 else tree_names[index])
        if nodes["bytes"]:
            nbytes[0] += nodes["bytes"][0]
            count[0] += nodes["count"][0]
        truncated = truncated or bool(tree.get("truncated"))
    return {"nodes": {"parent": parent, "bytes": nbytes, "count": count,
                      "self_bytes": self_bytes},
            "truncated": truncated}, names
