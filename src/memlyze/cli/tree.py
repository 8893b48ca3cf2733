"""``memlyze tree FILE``: the selection (the peak by default) as a call tree.

On a terminal (and with Textual installed) an interactive tree with a detail
pane, search and import hiding (memlyze.tree_view; ? lists its keys).
Otherwise (a pipe, --plain) the tree as indented text, largest first, to
--max-depth.
"""

from __future__ import annotations

import sys

from .. import formatting as fmt
from ..tree_view.model import TreeView, attach_threads
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


def make_app(view: TreeView, title: str, note: str = ""):
    """The Textual application showing view (memlyze.tree_view.app). Raises
    ImportError without Textual."""
    from memlyze.tree_view.app import make_app as make_tree_app

    return make_tree_app(view, title, note)


def interactive(view: TreeView, title: str, note: str = "") -> bool:
    """Runs the Textual tree; False when Textual is not installed."""
    try:
        app = make_app(view, title, note)
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
    view.inverted = options.inverted
    if sys.stdout.isatty() and not options.plain and not options.split_threads:
        # The detail pane's threads: the same selection split by thread.
        split = dict(tree_options, split_threads=True, other_fraction=0.0)
        attach_threads(view, report.tree(**split), report)
    return show(view, report, path, options)


def several(options, tree_options) -> int:
    """The process tree, then each capture's tree, or (--merge) one tree
    whose root's children are the processes."""
    merged = load_merged(options.file, options)
    if options.merge:
        tree, names = merged.tree(**tree_options)
        view = TreeView(tree, None, names)
        view.inverted = options.inverted
        return show(view, merged, "all processes (merged)", options,
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
        if interactive(view, header[1], " ".join([*header[2:], "? shows the keys."])):
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
