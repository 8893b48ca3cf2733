"""The cell's frames at the top of its flame graph.

Every stack recorded in a notebook starts some forty frames down, in the
kernel's event loop, IPython's run_cell and this magic. The graph moves each
stack's first frame of the cell (and everything it called) to just under the
root (or under its thread's node with --split-threads), and takes its bytes
and counts off the frames it left, which keep only what IPython and the
kernel held themselves. Node indices do not change (a moved node's new parent
still precedes it), so the page's other data stays valid. Inverted graphs,
whose roots are the allocating functions, are left as they are.
"""

from __future__ import annotations


def hoist_cell_frames(data: dict, cell_file: str, split_threads: bool) -> int:
    """Rewrites data's nodes in place (data as build_flame_data returns it,
    not inverted); returns the number of frames moved."""
    strings = data["strings"]
    try:
        cell_string = strings.index(cell_file)
    except ValueError:
        return 0
    nodes = data["nodes"]
    parent, files = nodes["parent"], nodes["file"]
    figures = (nodes["bytes"], nodes["count"])
    inside = [False] * len(parent)  # the node is a frame of the cell, or under one
    moved = 0
    for index in range(1, len(parent)):
        above = parent[index]
        if inside[above]:
            inside[index] = True
            continue
        if files[index] != cell_string:
            continue
        inside[index] = True
        new_parent = _thread_node(parent, index) if split_threads else 0
        ancestor = above
        while ancestor != new_parent and ancestor > 0:
            for figure in figures:
                figure[ancestor] -= figure[index]
            ancestor = parent[ancestor]
        parent[index] = new_parent
        moved += 1
    return moved


def _thread_node(parent: list, index: int) -> int:
    """The ancestor just under the root (the thread's node when split), or
    the root for a node right under it."""
    node = parent[index]
    while node > 0 and parent[node] > 0:
        node = parent[node]
    return node


def label_cell_file(data: dict, cell_file: str, label: str) -> None:
    """Shows the cell's file (a temporary file of the kernel) as IPython's
    tracebacks name the cell: "Cell In[5]"."""
    strings = data["strings"]
    if cell_file in strings:
        strings[strings.index(cell_file)] = label
