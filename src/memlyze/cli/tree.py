"""``memlyze tree FILE``: the selection (the peak by default) as a call tree.

On a terminal (and with Textual installed) an interactive tree: arrows move,
Enter / space expand and collapse, q quits. Otherwise (a pipe, --plain) the
tree as indented text, largest first, to --max-depth.
"""

from __future__ import annotations

import sys

from .. import formatting as fmt
from ._captures import add_files, load_merged, tree_of
from ._common import make_parser, positive_int
from ._selectors import SELECTOR_HELP, add_selectors, load_report, sampled_note

DESCRIPTION = "call tree of the memory held at the peak (interactive on a terminal)"


def build_parser():
    parser = make_parser("tree", DESCRIPTION, epilog=SELECTOR_HELP)
    add_files(parser)
    parser.add_argument("--max-depth", type=positive_int, default=None, metavar="N",
                        help="show N levels below the root (default: all)")
    parser.add_argument("--min-percent", type=float, default=0.5, metavar="P",
                        help="fold nodes below P%% of the total into 'other' (default: 0.5)")
    parser.add_argument("--inverted", action="store_true",
                        help="allocating functions first, their callers below")
    parser.add_argument("--split-threads", action="store_true", help="one subtree per thread")
    parser.add_argument("--plain", action="store_true",
                        help="print the text tree even on a terminal")
    add_selectors(parser)
    return parser


class TreeView:
    """The tree() dict as children lists with labels, largest child first."""

    def __init__(self, tree: dict, report, names=None):
        from memlyze.reports.report_data import node_names

        nodes = tree["nodes"]
        self.bytes = nodes["bytes"]
        self.count = nodes["count"]
        self.names = names if names is not None else node_names(tree, report)
        self.children: list[list[int]] = [[] for _ in self.bytes]
        for index, parent in enumerate(nodes["parent"]):
            if parent >= 0:
                self.children[parent].append(index)
        for children in self.children:
            children.sort(key=lambda child: (-self.bytes[child], -self.count[child], child))
        self.total = self.bytes[0] if self.bytes else 0

    def label(self, index: int) -> str:
        function, file, line = self.names[index]
        where = f"  {fmt.terminal_text(file)}:{line}" if file else ""
        return (f"{fmt.human_bytes(self.bytes[index]):>10} {fmt.percent(self.bytes[index], self.total):>6}"
                f"  {fmt.terminal_text(function)}{where}")


def plain_lines(view: TreeView, max_depth: int | None) -> list[str]:
    lines = []
    stack = [(0, 0)]
    while stack:
        index, depth = stack.pop()
        lines.append("  " * depth + view.label(index).lstrip() if depth else view.label(index).lstrip())
        if max_depth is not None and depth >= max_depth:
            continue
        for child in reversed(view.children[index]):
            stack.append((child, depth + 1))
    return lines


def make_app(view: TreeView, title: str):
    """The Textual application showing view; children are added when a node
    is first expanded. Raises ImportError without Textual."""
    from rich.text import Text
    from textual.app import App
    from textual.widgets import Footer, Header, Tree

    # A str label would be read as Rich markup: a name such as "[/]" would
    # break it. Text shows the (already escaped) label as it is.
    def label(index: int) -> Text:
        return Text(view.label(index))

    class MemoryTree(App):
        TITLE = title
        BINDINGS = [("q", "quit", "quit")]

        def compose(self):
            yield Header()
            tree = Tree(label(0), data=0)
            tree.root.expand()
            self._fill(tree.root)
            yield tree
            yield Footer()

        def _fill(self, node):
            for child in view.children[node.data]:
                node.add(label(child), data=child,
                         allow_expand=bool(view.children[child]))

        def on_tree_node_expanded(self, event):
            node = event.node
            if not node.children and view.children[node.data]:
                self._fill(node)

    return MemoryTree()


def interactive(view: TreeView, title: str) -> bool:
    """Runs the Textual tree; False when Textual is not installed."""
    try:
        app = make_app(view, title)
    except ImportError:
        return False
    app.run()
    return True


def main(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    tree_options = {"inverted": options.inverted, "split_threads": options.split_threads,
                    "other_fraction": max(options.min_percent, 0.0) / 100.0}
    if len(options.file) > 1:
        return several(options, tree_options)
    path = options.file[0]
    report = load_report(path, options)
    view = TreeView(report.tree(**tree_options), report)
    return show(view, report, path, options)


def several(options, tree_options) -> int:
    """The process tree, then each capture's tree, or (--merge) one tree
    whose root's children are the processes."""
    merged = load_merged(options.file, options)
    if options.merge:
        tree, names = merged.tree(**tree_options)
        return show(TreeView(tree, None, names), merged, "all processes (merged)", options,
                    preamble=tree_of(merged))
    print(tree_of(merged))
    options.plain = True  # several trees: text, one after the other
    for process, report in zip(merged.processes, merged.reports):
        print()
        show(TreeView(report.tree(**tree_options), report), report, process.path, options)
    return 0


def show(view: TreeView, report, path: str, options, preamble: str | None = None) -> int:
    header = [f"{fmt.terminal_text(path)}: "
              f"{fmt.terminal_text(report.header['command'] or '-')}",
              f"{fmt.terminal_text(report.selection_label())}: {fmt.human_bytes(view.total)} in "
              f"{fmt.counted(view.count[0] if view.count else 0, 'allocation')}"]
    note = sampled_note(report)
    if note:
        header.append(note)
    if sys.stdout.isatty() and not options.plain:
        if interactive(view, " | ".join(header[1:])):
            return 0
    if preamble:
        print(preamble + "\n")
    print("\n".join(header))
    print()
    if not view.total and not (view.count and view.count[0]):
        print("Nothing was selected: no allocation matches.")
        return 0
    print("\n".join(plain_lines(view, options.max_depth)))
    return 0
