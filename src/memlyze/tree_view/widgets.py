"""The widgets of the interactive tree: the tree with vim keys, the search
box and the help screen (app.py puts them together). Imports Textual."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input, Static, Tree

HELP = """\
memlyze tree: keys

  up / k, down / j   move to the previous / next line
  right / l          open the frame (on an open one: go to its first callee)
  left / h           close the frame (on a closed one: go to its caller)
  enter / space      open or close the frame
  e                  expand every frame below the cursor
  c                  collapse every frame (the root's callees stay shown)
  i                  hide / show import frames: those run by importlib's
                     bootstrap, with everything they call
  /                  search a function or file:line (enter: find, esc: cancel)
  n / N              next / previous match
  ?                  this help (esc, q or ? closes it)
  q                  quit

The right pane shows the frame under the cursor: function, file:line, its
bytes and share of the selection, what it allocated itself, its allocation
count, its threads and the source lines around its line."""


class FrameTree(Tree):
    """Tree with vim keys and left/right that open, close and move."""

    BINDINGS = [
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
        Binding("right,l", "open_or_down", "open", show=False),
        Binding("left,h", "close_or_parent", "close", show=False),
    ]

    def _fill_cursor(self) -> None:
        """Adds the cursor node's children now, before it opens: filled only
        on the expanded message, a key pressed right after (l then j) would
        find no children yet."""
        node = self.cursor_node
        if node is not None and not node.is_expanded:
            self.app.fill(node)

    def action_toggle_node(self) -> None:
        self._fill_cursor()
        super().action_toggle_node()

    def action_select_cursor(self) -> None:
        self._fill_cursor()
        super().action_select_cursor()

    def action_open_or_down(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and not node.is_expanded:
            self._fill_cursor()
            node.expand()
        elif node.is_expanded and node.children:
            self.action_cursor_down()

    def action_close_or_parent(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded and node.children:
            node.collapse()
        elif node.parent is not None:
            self.move_cursor(node.parent)


class SearchInput(Input):
    BINDINGS = [Binding("escape", "cancel", "cancel", show=False)]

    def action_cancel(self) -> None:
        self.app.close_search()


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark", "close", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help { width: 84; height: auto; border: round $accent; padding: 1 2; background: $panel; }
    """

    def compose(self):
        yield Static(Text(HELP), id="help")

    def action_close(self) -> None:
        self.app.pop_screen()
