"""IPython and Jupyter magics: ``%load_ext memlyze``, then a cell that starts
with ``%%memlyze_flamegraph`` or ``%%memlyze_summary`` runs under a tracker
and is followed by its flame graph (inline, self-contained) or its table of
top locations. See docs/jupyter.md.

Nothing here is imported by ``import memlyze``: only ``%load_ext`` (through
``memlyze.load_ipython_extension``) loads this package and IPython.
"""

from __future__ import annotations


def load_ipython_extension(ipython) -> None:
    from .magics import MemlyzeMagics

    ipython.register_magics(MemlyzeMagics)
