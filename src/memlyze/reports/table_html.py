"""Self-contained HTML tables.

``page()`` (memlyze diff --html): every row in the document, escaped with
html.escape; clicking a column header sorts by it (numbers by their
data-value attribute).

``location_page()`` (memlyze table --html): the rows as columns of JSON in
the page (static/table.html, table.css, table.js), drawn by the page's script
a screenful at a time, so 100,000 rows render, sort, search and filter
quickly. Its data::

    {"strings": ["", ...], "selection_bytes": int, "sorted_by": "bytes" | "count",
     "rows": {"function": [string index], "file": [...], "line": [...], "bytes": [...],
              "count", "leaked_bytes", "total_bytes", "total_count"},
     "threads": [label, ...],
     "thread_rows": None or the same columns per (location, thread), with "thread":
                    [index into threads]}

Neither page has external resources.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path

from .string_table import StringTable

STATIC = Path(__file__).resolve().parent / "static"
LOCATION_COLUMNS = ("bytes", "count", "leaked_bytes", "total_bytes", "total_count")
_PLACEHOLDER = re.compile(r"@@(CSP|CSS|JS|DATA|TITLE|NOTES)@@")

_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.2em; } p.note { color: #555; }
table { border-collapse: collapse; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: left; }
th { cursor: pointer; background: #f3f3f3; position: sticky; top: 0; user-select: none; }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.where { font-family: ui-monospace, monospace; font-size: 12px; color: #555; }
"""

_SCRIPT = """
document.querySelectorAll("th").forEach(function (header, column) {
  header.addEventListener("click", function () {
    var body = header.closest("table").tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var descending = header.dataset.order !== "descending";
    header.dataset.order = descending ? "descending" : "ascending";
    rows.sort(function (a, b) {
      var x = a.cells[column], y = b.cells[column];
      var p = x.dataset.value, q = y.dataset.value, result;
      if (p !== undefined && q !== undefined) { result = Number(p) - Number(q); }
      else { result = x.textContent.localeCompare(y.textContent); }
      return descending ? -result : result;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def cell(text, value=None, css=None) -> str:
    """A <td>; value (a number) makes it sort numerically."""
    attributes = ""
    if css:
        attributes += f' class="{css}"'
    if value is not None:
        attributes += f' data-value="{int(value)}"'
    return f"<td{attributes}>{html.escape(str(text))}</td>"


def page(title: str, notes: list[str], headers: list[str], rows: list[list[str]]) -> str:
    """The whole page: rows are lists of cell() strings."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in headers)
    body = "\n".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    paragraphs = "\n".join(f'<p class="note">{html.escape(note)}</p>' for note in notes)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        f"<h1>{html.escape(title)}</h1>\n{paragraphs}\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>\n"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def location_columns(rows: list[dict], strings: StringTable, thread: int | None = None,
                     columns: dict | None = None) -> dict:
    """Appends rows (dicts of exports.location_rows) to columns, made when
    None; thread (an index into the page's threads) fills a thread column."""
    if columns is None:
        columns = {name: [] for name in ("function", "file", "line", *LOCATION_COLUMNS)}
        if thread is not None:
            columns["thread"] = []
    for row in rows:
        columns["function"].append(strings(row["function"]))
        columns["file"].append(strings(row["file"]))
        columns["line"].append(row["line"])
        for name in LOCATION_COLUMNS:
            columns[name].append(row[name])
        if thread is not None:
            columns["thread"].append(thread)
    return columns


def location_page(title: str, notes: list[str], data: dict) -> str:
    """The table page of data (see the module docstring)."""
    from .flamegraph_html import content_security_policy, embed_json

    script = '(function () {\n  "use strict";\n' + _asset("table.js") + "})();\n"
    for name, text in (("table.js", script), ("table.css", _asset("table.css"))):
        if re.search(r"</(script|style)", text, re.IGNORECASE) or "<!--" in text:
            raise ValueError(f"{name} must not contain '</script', '</style' or '<!--'")
    parts = {
        "CSP": content_security_policy(script),
        "CSS": _asset("table.css"),
        "JS": script,
        "DATA": embed_json(data),
        "TITLE": html.escape(title),
        "NOTES": "\n".join(f'<p class="note">{html.escape(note)}</p>' for note in notes),
    }
    # One pass: text coming from the data is never scanned for placeholders.
    return _PLACEHOLDER.sub(lambda match: parts[match.group(1)], _asset("table.html"))
