"""The interactive ``memlyze tree``: a Textual call tree with a detail pane.

model.py holds the tree (no Textual), details.py the detail pane's text,
widgets.py and app.py the Textual application; only they import Textual, and
only cli/tree.py's interactive path imports app.py, so other commands never
load it.
"""
