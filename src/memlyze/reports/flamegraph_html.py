"""The flame graph page: one self-contained HTML file.

``render(flame_data)`` takes the dict made by
``memlyze.reports.flame_data.build_flame_data`` and returns the page: the
template, stylesheet and script from ``static/`` inlined, and the data as JSON
in a ``<script type="application/json">`` element. The script is the files of
``SCRIPTS`` joined in that order inside one function, so that they share one
scope and add no global but the ``window.memlyzeFlame`` they set: one
``<script>`` element, one hash in the Content-Security-Policy. Nothing is
fetched when the page is opened: no CDN, no font, no image; a
Content-Security-Policy forbids every network request and every script but the
page's own.

Function and file names come from the profiled program and are untrusted. They
travel only inside that JSON, where ``<``, ``>``, ``&``, U+2028 and U+2029 are
written as ``\\u003c`` and so on (so no name can close the element), and the
script puts them on the page with ``textContent`` and canvas ``fillText`` only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from functools import lru_cache
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"

# The page's script, by job, in the order they are joined. Each file only
# declares names and adds event listeners, except the last, which starts the
# page. A file added here must be added to src/memlyze/meson.build too (or it
# is missing from the installed package).
SCRIPTS = (
    "flamegraph_data.js",     # the decoded tree, frame names, number/size/time formatting
    "flamegraph_layout.js",   # flame graph layout, canvas drawing, hit testing, frame list
    "flamegraph_zoom.js",     # zoom and the breadcrumb
    "flamegraph_search.js",   # search, tooltip and canvas mouse handling
    "flamegraph_chart.js",    # the memory-over-time chart (SVG)
    "flamegraph_range.js",    # the temporal range selection on the chart
    "flamegraph_controls.js", # thread selector, hide import / interpreter frames
    "flamegraph_main.js",     # header, window.memlyzeFlame, start-up
)
_SCRIPT_OPEN = '(function () {\n  "use strict";\n'
_SCRIPT_CLOSE = "})();\n"

_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_JSON_UNSAFE = re.compile("[<>&\u2028\u2029]")
_PLACEHOLDER = re.compile(r"@@(CSP|CSS|JS|DATA)@@")


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _script() -> str:
    """The page's script: the files of SCRIPTS inside one strict function."""
    return _SCRIPT_OPEN + "\n".join(_asset(name) for name in SCRIPTS) + _SCRIPT_CLOSE


def _finite(value):
    """The same structure with NaN and infinities as None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def embed_json(value) -> str:
    """Compact JSON that is safe inside a <script> element of an HTML page."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return _JSON_UNSAFE.sub(lambda match: _JSON_ESCAPES[match.group(0)], text)


def _csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    # Only the page's own script runs (by its hash: no inline event handler,
    # no injected <script>); nothing is loaded from anywhere.
    return "; ".join([
        "default-src 'none'",
        f"script-src 'sha256-{digest}'",
        "style-src 'unsafe-inline'",
        "img-src 'none'",
        "font-src 'none'",
        "connect-src 'none'",
        "media-src 'none'",
        "object-src 'none'",
        "frame-src 'none'",
        "worker-src 'none'",
        "form-action 'none'",
        "base-uri 'none'",
    ])


# For the other self-contained pages (table_html.py).
content_security_policy = _csp


def render(flame_data: dict) -> str:
    """The complete HTML page for ``flame_data`` (see flame_data.py for its shape)."""
    template = _asset("flamegraph.html")
    css = _asset("flamegraph.css")
    script = _script()
    for name, text in [(name, _asset(name)) for name in SCRIPTS] + [("flamegraph.css", css)]:
        if re.search(r"</(script|style)", text, re.IGNORECASE) or "<!--" in text:
            raise ValueError(f"{name} must not contain '</script', '</style' or '<!--'")
    parts = {
        "CSP": _csp(script),
        "CSS": css,
        "JS": script,
        "DATA": embed_json(flame_data),
    }
    # One pass: text coming from the data is never scanned for placeholders.
    return _PLACEHOLDER.sub(lambda match: parts[match.group(1)], template)


def write(flame_data: dict, path) -> int:
    """Writes the page to ``path``; returns its size in bytes."""
    page = render(flame_data).encode("utf-8")
    with open(path, "wb") as handle:
        handle.write(page)
    return len(page)
