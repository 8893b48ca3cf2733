"""Self-contained, sortable HTML tables (memlyze table --html, memlyze diff --html).

Every text from the capture is escaped with html.escape; the page has no
external resources. Clicking a column header sorts by it (numbers by their
data-value attribute).
"""

from __future__ import annotations

import html

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
