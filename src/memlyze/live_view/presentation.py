"""What the live view shows, apart from Textual: the order of the
locations for a sort key, the header's lines, the thread choices."""

from __future__ import annotations

from ..formatting import human_bytes, human_count, human_duration, shorten_path, terminal_text

# sort key -> (the Location attribute, the column it heads)
SORT_KEYS = {
    "own": ("own_bytes", "own"),
    "total": ("total_bytes", "total"),
    "count": ("own_count", "blocks"),
}

COLUMNS = ("function", "location", "own", "total", "blocks")

# Rows shown (the snapshot holds up to 600 locations; a terminal shows fewer).
MAX_ROWS = 200


def sorted_locations(locations, key: str):
    """Largest first by key. Ties go to the location that allocated more
    itself (a caller's line holds as much in total as the function it
    called, which is the one to show), then by name, so the order holds still."""
    attribute = SORT_KEYS[key][0]
    return sorted(locations, key=lambda location: (-getattr(location, attribute),
                                                   -location.own_bytes, -location.total_bytes,
                                                   location.function, location.file,
                                                   location.line))


def column_titles(key: str) -> list[str]:
    """The columns, the sorted one marked."""
    sorted_column = SORT_KEYS[key][1]
    return [f"{name} ▼" if name == sorted_column else name for name in COLUMNS]


def location_row(location) -> tuple[str, str, str, str, str]:
    where = (f"{shorten_path(location.file, 60)}:{location.line}" if location.file else "")
    return (terminal_text(location.function), terminal_text(where),
            human_bytes(location.own_bytes), human_bytes(location.total_bytes),
            human_count(location.own_count))


def thread_label(thread) -> str:
    name = terminal_text(thread.name) if thread.name else "?"
    return f"{thread.thread_id} {name} (tid {thread.native_tid})"


def thread_choices(snapshot) -> list[int]:
    """0 (every thread), then the threads holding memory or seen, by id."""
    return [0] + sorted(thread.thread_id for thread in snapshot.threads)


def header_lines(hello, snapshot, port: int) -> list[str]:
    command = terminal_text(hello.command) or "?"
    lines = [f"memlyze live · PID {hello.pid} · port {port} · Python "
             f"{terminal_text(hello.python_version)} · {command}"]
    if snapshot is None:
        return lines + ["waiting for the first snapshot…"]
    lines.append(
        f"heap {human_bytes(snapshot.heap_bytes)} ({human_count(snapshot.heap_count)} blocks)"
        f" · peak {human_bytes(snapshot.peak_bytes)}"
        f" · RSS {human_bytes(snapshot.rss_bytes)} (peak {human_bytes(snapshot.peak_rss_bytes)})"
        f" · duration {human_duration(snapshot.elapsed_ns / 1e9)}")
    return lines


def threads_line(snapshot, selected: int) -> str:
    """Every thread with what it holds; the selected one in brackets."""
    parts = ["[all]" if selected == 0 else "all"]
    for thread in sorted(snapshot.threads, key=lambda thread: thread.thread_id):
        text = f"{thread_label(thread)} {human_bytes(thread.live_bytes)}"
        parts.append(f"[{text}]" if thread.thread_id == selected else text)
    return "threads: " + " | ".join(parts)
