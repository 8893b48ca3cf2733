"""The interactive ``memlyze tree``: a Textual call tree with a detail pane.

model.py holds the tree (no Textual), details.py the detail pane's text,
app.py the Textual application; only app.py imports Textual, and only
cli/tree.py's interactive path imports app.py, so other commands never load
it.
"""
