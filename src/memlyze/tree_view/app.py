"""The Textual application of ``memlyze tree`` on a terminal: the call tree on
the left, the selected frame's details on the right (details.py), a status
line, a search box and a help screen (widgets.py). Children are added to the
widget when a node is first opened, so a large tree starts at once.

Imports Textual at import time: only the interactive path imports it.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Static

from .. import formatting as fmt
from .details import detail_text
from .model import TreeView
from .widgets import FrameTree, HelpScreen, SearchInput


class MemoryTree(App):
    CSS = """
    #panes { height: 1fr; }
    #tree { width: 3fr; }
    #detail { width: 2fr; border-left: solid $accent; padding: 0 1; }
    #status { height: 1; padding: 0 1; }
    #search { display: none; }
    """
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "help"),
        Binding("e", "expand_all", "expand all"),
        Binding("c", "collapse_all", "collapse all"),
        Binding("i", "toggle_imports", "hide imports"),
        Binding("slash", "search", "search"),
        Binding("n", "next_match", "next match"),
        Binding("N", "previous_match", "previous match", show=False),
    ]

    def __init__(self, view: TreeView, title: str, note: str = ""):
        super().__init__()
        self.view = view
        self.title = title
        self.note = note
        self.hide_imports = False
        self.widgets: dict[int, object] = {}  # view index -> TreeNode added so far
        self.opened: set[int] = {0}  # open nodes, kept while import frames are hidden
        self.query_text = ""

    # --- building the tree widget ---------------------------------------------------------

    def label(self, index: int) -> Text:
        # A str label would be read as Rich markup: a name such as "[/]" would
        # break it. Text shows the (already escaped) label as it is.
        return Text(self.view.label(index))

    def shown_children(self, index: int) -> list[int]:
        children = self.view.children[index]
        if self.hide_imports:
            return [child for child in children if not self.view.import_hidden[child]]
        return children

    def fill(self, node) -> None:
        """Adds node's children to the widget (once)."""
        if node.children:
            return
        for child in self.shown_children(node.data):
            self.widgets[child] = node.add(self.label(child), data=child,
                                           allow_expand=bool(self.shown_children(child)))

    def compose(self):
        yield Header()
        with Horizontal(id="panes"):
            tree = FrameTree(self.label(0), data=0, id="tree")
            self.widgets = {0: tree.root}
            self.fill(tree.root)
            tree.root.expand()
            yield tree
            yield Static(Text(detail_text(self.view, 0)), id="detail")
        yield Static(Text(self.note), id="status")
        yield SearchInput(placeholder="search a function or file:line (enter: find, esc: cancel)",
                          id="search")
        yield Footer()

    def on_tree_node_expanded(self, event) -> None:
        self.fill(event.node)
        self.opened.add(event.node.data)

    def on_tree_node_collapsed(self, event) -> None:
        self.opened.discard(event.node.data)

    def on_tree_node_highlighted(self, event) -> None:
        self.query_one("#detail", Static).update(Text(detail_text(self.view, event.node.data)))

    def status(self, text: str) -> None:
        self.query_one("#status", Static).update(Text(text))

    def tree_widget(self) -> FrameTree:
        return self.query_one("#tree", FrameTree)

    def cursor_index(self) -> int:
        node = self.tree_widget().cursor_node
        return node.data if node is not None else 0

    def reveal(self, index: int) -> None:
        """Opens index's callers and moves the cursor to it."""
        for ancestor in self.view.ancestors(index):
            node = self.widgets[ancestor]
            self.fill(node)
            node.expand()
        tree = self.tree_widget()
        self.call_after_refresh(tree.move_cursor, self.widgets[index])

    # --- actions ----------------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_expand_all(self) -> None:
        start = self.widgets[self.cursor_index()]
        pending = [start]
        while pending:
            node = pending.pop()
            self.fill(node)
            pending.extend(node.children)
        start.expand_all()
        self.status("expanded every frame below "
                    f"{fmt.terminal_text(self.view.names[start.data][0])}")

    def action_collapse_all(self) -> None:
        tree = self.tree_widget()
        tree.root.collapse_all()
        tree.root.expand()
        tree.move_cursor(tree.root)
        self.status("collapsed every frame")

    def action_toggle_imports(self) -> None:
        self.hide_imports = not self.hide_imports
        tree = self.tree_widget()
        cursor = self.cursor_index()
        tree.clear()
        self.widgets = {0: tree.root}
        self.fill(tree.root)
        tree.root.expand()
        for index in sorted(self.opened):  # parents come before their children
            if index in self.widgets and self.shown_children(index):
                self.fill(self.widgets[index])
                self.widgets[index].expand()
        if cursor in self.widgets:
            self.call_after_refresh(tree.move_cursor, self.widgets[cursor])
        if self.hide_imports:
            count, nbytes = self.view.import_subtrees()
            self.status(f"import frames hidden: {fmt.counted(count, 'subtree')} holding "
                        f"{fmt.human_bytes(nbytes)} (i shows them)")
        else:
            self.status("import frames shown")

    def action_search(self) -> None:
        search = self.query_one("#search", SearchInput)
        search.display = True
        search.value = ""
        search.focus()

    def close_search(self) -> None:
        search = self.query_one("#search", SearchInput)
        search.display = False
        self.tree_widget().focus()

    def on_input_submitted(self, event) -> None:
        self.query_text = event.value.strip()
        self.close_search()
        if self.query_text:
            self.jump(+1)

    def action_next_match(self) -> None:
        self.jump(+1)

    def action_previous_match(self) -> None:
        self.jump(-1)

    def jump(self, step: int) -> None:
        """Moves to the next (step +1) or previous (-1) match of the search,
        in the tree's order from the cursor, wrapping around."""
        if not self.query_text:
            self.status("no search yet: / searches")
            return
        matches = self.view.matches(self.query_text, self.hide_imports)
        if not matches:
            self.status(f"no frame matches {self.query_text!r}")
            return
        order = self.view.preorder(self.hide_imports)
        position = {index: place for place, index in enumerate(order)}
        here = position.get(self.cursor_index(), 0)
        if step > 0:
            after = [index for index in matches if position[index] > here]
            target = after[0] if after else matches[0]
        else:
            before = [index for index in matches if position[index] < here]
            target = before[-1] if before else matches[-1]
        self.reveal(target)
        function = fmt.terminal_text(self.view.names[target][0])
        self.status(f"match {matches.index(target) + 1} of {len(matches)} for "
                    f"{self.query_text!r}: {function}")


def make_app(view: TreeView, title: str, note: str = "") -> MemoryTree:
    return MemoryTree(view, title, note)
