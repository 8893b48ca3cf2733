"""Human-readable sizes, durations, counts, bars and text tables, and the
escaping of names from a capture for the terminal."""

from __future__ import annotations  # Sequence below is never imported: collections.abc costs ms

import math
import os

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def _control_escape(code: int) -> str:
    return {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}.get(code, f"\\x{code:02x}")


# Every C0 control, DEL and every C1 control (as code points: U+0080 to
# U+009F, which terminals honour like ESC sequences), and the backslash so
# that an escape read on the screen always stands for one character.
_TERMINAL_ESCAPES = {code: _control_escape(code) for code in (*range(0x20), *range(0x7F, 0xA0))}
_TERMINAL_ESCAPES[ord("\\")] = "\\\\"


def terminal_text(text) -> str:
    """text with its control characters escaped as Python's repr writes them
    ('\\x1b', '\\x07', '\\n', '\\t', '\\x9b'; a backslash as '\\\\').

    Function, file, thread names and the command come from the profiled
    program: printed raw, they could recolour the terminal, set its title,
    clear it or break a report's lines. Every text report passes them through
    here, once, as it formats them.
    """
    return str(text).translate(_TERMINAL_ESCAPES)


def human_bytes(value) -> str:
    """1536 -> '1.5 KiB'; binary units; '-' for None."""
    if value is None:
        return "-"
    value = float(value)
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value < 1024:
        return f"{sign}{int(round(value))} B"
    exponent = min(int(math.log(value, 1024)), len(_UNITS) - 1)
    scaled = value / 1024**exponent
    if scaled >= 1023.95 and exponent < len(_UNITS) - 1:
        exponent += 1
        scaled = value / 1024**exponent
    return f"{sign}{scaled:.1f} {_UNITS[exponent]}"


def human_count(value) -> str:
    """1234567 -> '1,234,567'; '-' for None."""
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def counted(value, noun: str) -> str:
    """'1 frame', '2 frames', '1,234 allocations': never '1 frames'."""
    return f"{human_count(value)} {noun}{'' if value == 1 else 's'}"


def human_duration(seconds) -> str:
    """Seconds as '850 µs', '12.3 ms', '4.56 s', '2 min 5 s'; '-' for None."""
    if seconds is None:
        return "-"
    seconds = float(seconds)
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 120:
        return f"{int(minutes)} min {rest:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min"


def percent(part, whole) -> str:
    if not whole:
        return "-"
    return f"{100.0 * part / whole:.1f}%"


def bar(fraction: float, width: int = 20) -> str:
    """A horizontal bar of ``width`` cells with eighth-cell resolution."""
    if not fraction or fraction <= 0 or math.isnan(fraction):
        return ""
    fraction = min(fraction, 1.0)
    eighths = max(1, int(round(fraction * width * 8)))
    full, partial = divmod(eighths, 8)
    text = "█" * full
    if partial:
        text += " ▏▎▍▌▋▊▉"[partial]
    return text


def location(frame) -> str:
    """'function file:line' from a dict or a (function, file, line) frame,
    escaped for the terminal (terminal_text)."""
    if frame is None:
        return "<no Python frame>"
    if isinstance(frame, dict):
        function, file, line = frame.get("function"), frame.get("file"), frame.get("line")
    else:
        function, file, line = frame[0], frame[1], frame[2]
    if not file:  # no Python frame: the engine may still name the allocation
        return terminal_text(function or "<no Python frame>")
    return (f"{terminal_text(function or '?')} {terminal_text(file)}:"
            f"{line if line is not None else '?'}")


def shorten_path(path: str, width: int) -> str:
    """Keeps the end of a too-long path: '…/pkg/module.py'."""
    if len(path) <= width or width < 8:
        return path
    return "…" + path[-(width - 1):]


def terminal_width(default: int = 100) -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return default


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None,
          indent: str = "") -> str:
    """A plain-text table. ``align`` has one character per column: 'l' or 'r'."""
    columns = len(headers)
    align = align or "l" * columns
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))

    def render(row):
        parts = []
        for index, cell in enumerate(row):
            if index == columns - 1 and align[index] == "l":
                parts.append(cell)  # no trailing padding
            elif align[index] == "r":
                parts.append(cell.rjust(widths[index]))
            else:
                parts.append(cell.ljust(widths[index]))
        return (indent + "  ".join(parts)).rstrip()

    lines = [render(headers), indent + "  ".join("-" * width for width in widths)]
    lines.extend(render(row) for row in cells)
    return "\n".join(lines)
