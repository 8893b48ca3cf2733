"""``memlyze stats`` with a selector: the selection's figures
(reports/selection_figures.py says what each follows), then the whole run's."""

from __future__ import annotations

from .. import formatting as fmt
from ._selectors import SELECTION_LINES

SELECTION_HELP = SELECTION_LINES + """\
With any of these, stats first shows the selection's figures (the "selection"
key of --json), then the whole run's, which a selection does not change:
allocators, sizes, GC, RSS, the peak, tracker memory. PATTERN is fnmatch
syntax, tested against each frame's function name, file path, base name and
module."""


def _allocations(nbytes, count) -> str:
    return f"{fmt.human_bytes(nbytes)} in {fmt.counted(count, 'allocation')}"


def render_selection(selection: dict, peak_bytes: int) -> list[str]:
    from .stats import _locations

    selected = selection["bytes"]
    out = [
        f"Selection:       {fmt.terminal_text(selection['label'])}",
        f"  Selected:      {_allocations(selected, selection['allocations'])}",
        f"  Allocated:     {_allocations(selection['total_bytes'], selection['total_allocations'])}"
        " (the selected stacks, whole run)",
        f"  Leaked:        {_allocations(selection['leaked_bytes'], selection['leaked_allocations'])}"
        " (the selected stacks, alive when tracking stopped)",
        f"  At the peak:   {fmt.human_bytes(selection['held_at_peak_bytes'])} of the peak's "
        f"{fmt.human_bytes(peak_bytes)} (the selected stacks)",
    ]
    sections = (
        ("Top locations of the selection (by bytes)", "top", selected),
        ("Top locations of the selection by number of allocations", "top_by_count", None),
        ("Top locations by bytes allocated (the selected stacks)", "top_by_total",
         selection["total_bytes"]),
        ("Top leaks (the selected stacks)", "top_leaks", selection["leaked_bytes"]),
    )
    for title, key, total in sections:
        out += ["", f"{title}:", _locations(selection[key], total)]
    return out


def render_selected(summary: dict, path: str) -> str:
    from .stats import render

    lines = render_selection(summary["selection"], summary.get("peak_bytes") or 0)
    lines += ["", "Whole run (a selection does not change these figures):", render(summary, path)]
    return "\n".join(lines)
