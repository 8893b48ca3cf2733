"""The progress line of a long report pass: bytes of the capture read, the
rate and the time left, on stderr when it is a terminal, never on a pipe.

The C pass calls the display at each chunk it reads with (bytes_read,
file_bytes); the display draws nothing for the first second (a short pass
shows nothing), then redraws at most ten times a second, and erases its line
at the end.
"""

from __future__ import annotations

import os
import sys
import time

from .. import formatting as fmt

REDRAW_SECONDS = 0.1
# How long a pass runs before the line appears; MEMLYZE_PROGRESS_AFTER
# changes it (the tests draw at once on small captures).
DEFAULT_DELAY_SECONDS = 1.0


def _delay() -> float:
    try:
        return max(float(os.environ.get("MEMLYZE_PROGRESS_AFTER", DEFAULT_DELAY_SECONDS)), 0.0)
    except ValueError:
        return DEFAULT_DELAY_SECONDS


class TerminalProgress:
    """A one-line display of a pass over a file, redrawn in place."""

    def __init__(self, label: str, stream=None, delay: float | None = None, clock=time.monotonic):
        self.stream = stream or sys.stderr
        self.label = label
        self.clock = clock
        self.started = clock()
        self.delay = _delay() if delay is None else delay
        self.shown = False
        self.last_drawn = None

    def line(self, bytes_read: int, file_bytes: int, elapsed: float) -> str:
        rate = bytes_read / elapsed if elapsed > 0 else 0.0
        text = f"{self.label}: {fmt.human_bytes(bytes_read)}"
        if file_bytes:
            fraction = min(bytes_read / file_bytes, 1.0)
            text += f" of {fmt.human_bytes(file_bytes)} ({fraction:.0%})"
        text += f", {fmt.human_bytes(rate)}/s"
        if file_bytes and rate > 0 and bytes_read < file_bytes:
            text += f", {fmt.human_duration((file_bytes - bytes_read) / rate)} left"
        return text

    def __call__(self, bytes_read: int, file_bytes: int) -> None:
        now = self.clock()
        elapsed = now - self.started
        if elapsed < self.delay:
            return
        if self.last_drawn is not None and now - self.last_drawn < REDRAW_SECONDS:
            return
        self.last_drawn = now
        # Kept within one terminal line: a wrapped line could not be erased.
        text = self.line(bytes_read, file_bytes, elapsed)[: max(self.columns() - 1, 20)]
        self.stream.write("\r\033[K" + text)
        self.stream.flush()
        self.shown = True

    def columns(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            columns = 0
        return columns or 80  # 0: a terminal that never set its size

    def finish(self) -> None:
        """Erases the line, if one was drawn."""
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False


def progress_for(progress, label: str = "reading capture"):
    """'auto': a TerminalProgress when stderr is a terminal, else None;
    None or a callable as given."""
    if progress == "auto":
        try:
            tty = sys.stderr.isatty()
        except (AttributeError, ValueError):
            tty = False
        return TerminalProgress(label) if tty else None
    return progress
