"""The call tree the terminal views show: children lists largest first,
labels, per-node threads, the import-system frames, search."""

from __future__ import annotations

from .. import formatting as fmt

# The files of importlib's bootstrap and of zipimport: code run while
# importing a module (the flame page's IMPORT_FILE names the same).
IMPORT_FILES = ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>",
                "<frozen zipimport>")


def is_import_file(file: str) -> bool:
    return file in IMPORT_FILES or file.endswith(("importlib/_bootstrap.py",
                                                  "importlib/_bootstrap_external.py",
                                                  "/zipimport.py"))


class TreeView:
    """The tree() dict of a report as children lists with labels, largest
    child first. names: (function, file, line) per node (report_data.node_names)."""

    def __init__(self, tree: dict, report, names=None):
        from memlyze.reports.report_data import node_names

        nodes = tree["nodes"]
        self.bytes = nodes["bytes"]
        self.count = nodes["count"]
        self.self_bytes = nodes.get("self_bytes") or [0] * len(self.bytes)
        self.kinds = nodes.get("kind") or ["frame"] * len(self.bytes)
        self.parents = nodes["parent"]
        self.names = names if names is not None else node_names(tree, report)
        self.children: list[list[int]] = [[] for _ in self.bytes]
        for index, parent in enumerate(self.parents):
            if parent >= 0:
                self.children[parent].append(index)
        for children in self.children:
            children.sort(key=lambda child: (-self.bytes[child], -self.count[child], child))
        self.total = self.bytes[0] if self.bytes else 0
        # An inverted tree's self figures are those of its outermost frames,
        # not what a frame allocated itself: the detail pane leaves them out.
        self.inverted = False
        # node -> [(thread label, bytes)], largest first; None: not known.
        self.threads: list[list[tuple[str, int]]] | None = None
        self.import_hidden = self._under_import_frames()

    def label(self, index: int) -> str:
        function, file, line = self.names[index]
        where = f"  {fmt.terminal_text(file)}:{line}" if file else ""
        return (f"{fmt.human_bytes(self.bytes[index]):>10} {fmt.percent(self.bytes[index], self.total):>6}"
                f"  {fmt.terminal_text(function)}{where}")

    def _under_import_frames(self) -> list[bool]:
        """Per node: it is an import-system frame or below one (parents come
        before their children in a tree() dict)."""
        hidden = [False] * len(self.bytes)
        for index, parent in enumerate(self.parents):
            file = self.names[index][1]
            hidden[index] = (parent >= 0 and hidden[parent]) or \
                (self.kinds[index] == "frame" and is_import_file(file))
        return hidden

    def import_subtrees(self) -> tuple[int, int]:
        """(number, bytes) of the subtrees the import filter hides."""
        tops = [index for index, hidden in enumerate(self.import_hidden)
                if hidden and not self.import_hidden[self.parents[index]]]
        return len(tops), sum(self.bytes[index] for index in tops)

    def preorder(self, hide_imports: bool = False) -> list[int]:
        """Every node, parents before children, largest child first."""
        order, pending = [], [0]
        while pending:
            index = pending.pop()
            if hide_imports and self.import_hidden[index]:
                continue
            order.append(index)
            pending.extend(reversed(self.children[index]))
        return order

    def matches(self, text: str, hide_imports: bool = False) -> list[int]:
        """The nodes (in preorder) whose function or file:line contains text,
        ignoring case."""
        needle = text.lower()
        found = []
        for index in self.preorder(hide_imports):
            function, file, line = self.names[index]
            if needle in function.lower() or (file and needle in f"{file}:{line}".lower()):
                found.append(index)
        return found

    def ancestors(self, index: int) -> list[int]:
        """index's ancestors, the root first."""
        path = []
        while self.parents[index] >= 0:
            index = self.parents[index]
            path.append(index)
        return path[::-1]

    def thread_of(self, index: int) -> str | None:
        """In a --split-threads tree: the thread node index is under."""
        for ancestor in [*self.ancestors(index), index]:
            if self.kinds[ancestor] == "thread":
                return self.names[ancestor][0]
        return None


def attach_threads(view: TreeView, split_tree: dict, report) -> None:
    """Fills view.threads from the same selection's --split-threads tree:
    each of its frame nodes is matched, by its path of frames, to view's node.
    Folded ("other") nodes are not matched: their threads stay unknown."""
    from memlyze.reports.report_data import node_names

    nodes = split_tree["nodes"]
    names = node_names(split_tree, report)
    child_of = {(view.parents[index], view.names[index]): index
                for index in range(1, len(view.bytes)) if view.kinds[index] != "other"}
    mapped: list[int | None] = [None] * len(nodes["parent"])
    thread_of: list[str] = [""] * len(nodes["parent"])
    figures: list[dict[str, int]] = [{} for _ in view.bytes]
    mapped[0] = 0
    for index in range(1, len(nodes["parent"])):
        parent = nodes["parent"][index]
        kind = nodes["kind"][index]
        if kind == "thread":
            mapped[index], thread_of[index] = 0, _thread_label(names[index][0])
            continue
        thread_of[index] = thread_of[parent]
        if kind == "other" or mapped[parent] is None:
            continue
        mapped[index] = child_of.get((mapped[parent], names[index]))
        if mapped[index] is not None:
            into = figures[mapped[index]]
            into[thread_of[index]] = into.get(thread_of[index], 0) + nodes["bytes"][index]
    for index, kind in enumerate(nodes["kind"]):
        if kind == "thread":
            into = figures[0]
            into[thread_of[index]] = into.get(thread_of[index], 0) + nodes["bytes"][index]
    view.threads = [sorted(found.items(), key=lambda item: (-item[1], item[0]))
                    for found in figures]


def _thread_label(node_name: str) -> str:
    """'thread 2 (worker)' -> 'worker (2)'; 'thread 3' -> 'thread 3'."""
    number, _, name = node_name.removeprefix("thread ").partition(" (")
    return f"{name[:-1]} ({number})" if name else node_name
