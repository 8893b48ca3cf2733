"""The figures ``memlyze stats`` gives for a selection (its "selection" key).

A selection has two parts, and each figure says which it follows:
- the filters (--thread, --include, --exclude) choose the stacks: every
  figure below counts only allocations of those stacks;
- the kind (the peak by default, --leaks, --temporary, --snapshot K) chooses
  which of their allocations are "selected": bytes, allocations, top and
  top_by_count follow it; total_*, leaked_*, held_at_peak_* and top_by_total,
  top_leaks do not (they are what the chosen stacks allocated over the whole
  run, left alive at the end, and held at the capture's peak).
Figures with no per-stack breakdown in a capture (allocator mix, size
histogram, GC, RSS, the peak's size and time, tracker memory) stay whole-run:
they are the top-level keys of ``stats --json``, which a selection never
changes.
"""

from __future__ import annotations

from .exports import location_rows


def _entries(rows: list[dict], bytes_key: str, count_key: str, order: str, top: int) -> list[dict]:
    chosen = [row for row in rows if row[bytes_key] or row[count_key]]
    first, second = (count_key, bytes_key) if order == "count" else (bytes_key, count_key)
    chosen.sort(key=lambda row: (-row[first], -row[second], row["function"], row["file"],
                                 row["line"]))
    return [{"function": row["function"], "file": row["file"], "line": row["line"],
             "bytes": row[bytes_key], "count": row[count_key]} for row in chosen[:top]]


def selection_figures(report, top: int) -> dict:
    rows = location_rows(report)

    def total(key: str) -> int:
        return sum(row[key] for row in rows)

    return {
        "selection": report.selection,
        "label": report.selection_label(),
        "snapshot": report.snapshot if report.selection == "snapshot" else None,
        "temporary_threshold": (report.temporary_threshold if report.selection == "temporary"
                                else None),
        "thread": report.thread_label,
        "include": list(report.include),
        "exclude": list(report.exclude),
        "bytes": total("bytes"),
        "allocations": total("count"),
        "total_bytes": total("total_bytes"),
        "total_allocations": total("total_count"),
        "leaked_bytes": total("leaked_bytes"),
        "leaked_allocations": total("leaked_count"),
        "held_at_peak_bytes": total("peak_bytes"),
        "held_at_peak_allocations": total("peak_count"),
        "top": _entries(rows, "bytes", "count", "bytes", top),
        "top_by_count": _entries(rows, "bytes", "count", "count", top),
        "top_by_total": _entries(rows, "total_bytes", "total_count", "bytes", top),
        "top_leaks": _entries(rows, "leaked_bytes", "leaked_count", "bytes", top),
    }
