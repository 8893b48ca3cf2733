"""The flame graph as a notebook output: the self-contained page in an
``<iframe srcdoc>``, sandboxed to its scripts.

Each graph is its own document, so several in one notebook share no element
id, style or global (the page sets ``window.memlyzeFlame`` in its frame
only); the sandbox (no allow-same-origin) keeps the page's script away from
the notebook, and its Content-Security-Policy still forbids every request.
Front ends without HTML (a terminal IPython) get a plain-text line.
"""

from __future__ import annotations

import html

from .. import formatting as fmt


def plain_text(data: dict, html_path: str | None) -> str:
    meta = data.get("meta") or {}
    frames = meta.get("node_count") or 0
    text = (f"memlyze flame graph of the cell: {meta.get('selection_label') or ''}; "
            f"{fmt.human_bytes(meta.get('total_bytes'))} in {fmt.human_count(frames)} frames")
    if html_path:
        return text + f"; page written to {html_path}"
    return text + " (shown inline by HTML front ends; --html FILE writes the page)"


def iframe(page: str, height: int) -> str:
    """The page inside an iframe element, escaped for its srcdoc attribute."""
    return (f'<iframe class="memlyze-flamegraph" title="memlyze flame graph" '
            f'sandbox="allow-scripts" style="width: 100%; height: {int(height)}px; '
            f'border: 1px solid #ccc; box-sizing: border-box;" '
            f'srcdoc="{html.escape(page, quote=True)}"></iframe>')


def bundle(data: dict, page: str, height: int, html_path: str | None) -> dict:
    """The display_data bundle: HTML for notebooks, text elsewhere."""
    return {"text/html": iframe(page, height), "text/plain": plain_text(data, html_path)}
