"""Reading capture files from Python: ``FileReader``.

A thin, friendlier layer over the engine's ``CaptureFile`` and
``analyze_capture``: frames and allocations come back as named objects,
stacks are resolved and cached.
"""

from __future__ import annotations

import os
from typing import Iterator, NamedTuple

from . import _memlyze

__all__ = ["Allocation", "CaptureError", "FileReader", "Frame", "Record"]

CaptureError = _memlyze.CaptureError


class Frame(NamedTuple):
    """One Python frame: the innermost frame of a stack is its location."""

    function: str
    file: str
    line: int

    def __str__(self):
        return f"{self.function} {self.file}:{self.line}"


class Record(NamedTuple):
    """One event of the capture, in the order it happened."""

    kind: object
    thread_id: int
    address: int
    size: int
    allocator: object
    stack_id: int
    native_stack_id: int = 0  # with --native: see FileReader.native_stack()


class Allocation:
    """Memory held by one stack: ``bytes`` in ``count`` allocations."""

    __slots__ = ("stack_id", "stack", "bytes", "count")

    def __init__(self, stack_id: int, stack: list[Frame], nbytes: int, count: int):
        self.stack_id = stack_id
        self.stack = stack
        self.bytes = nbytes
        self.count = count

    @property
    def location(self) -> Frame | None:
        """The innermost frame, or None for memory allocated with no Python frame."""
        return self.stack[0] if self.stack else None

    def __repr__(self):
        return f"<Allocation {self.bytes} bytes in {self.count} at {self.location}>"


class FileReader:
    """Opens a capture file (``*.mlyze``) for reading.

    Raises ``OSError`` when the file cannot be opened and ``CaptureError``
    when it is not a capture this version can read.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._capture = _memlyze.CaptureFile(self.path)
        self._stacks: dict[int, list[Frame]] = {}
        self._summaries: dict[int, dict] = {}

    def __repr__(self):
        return f"<memlyze.FileReader {self.path!r}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self) -> None:
        close = getattr(self._capture, "close", None)
        if close is not None:
            close()

    @property
    def metadata(self) -> dict:
        """The capture's header: pid, command, Python version, options, start time."""
        return dict(self._capture.header)

    @property
    def summary(self) -> dict:
        """The figures of ``memlyze stats --json`` (SPEC section 2), top 10."""
        return self.analyze(top=10)

    def analyze(self, top: int = 10) -> dict:
        """Like :attr:`summary` with ``top`` locations in each top list."""
        if top not in self._summaries:
            self._summaries[top] = _memlyze.analyze_capture(self.path, top=top)
        return self._summaries[top]

    @property
    def truncated(self) -> bool:
        """True when the capture was not closed (its process was killed)."""
        return bool(self.summary.get("truncated"))

    def threads(self) -> list:
        return list(self._capture.threads())

    def records(self) -> Iterator[Record]:
        """Every event of the capture, in order.

        Raises CaptureError for a capture recorded with --aggregate, which
        keeps per-stack totals only (its peak and leak figures are in summary,
        peak_allocations() and leaks())."""
        if self.metadata.get("aggregate"):
            raise CaptureError("this capture was recorded with --aggregate; per-event records "
                               "are not available")
        for record in self._capture.records():
            yield Record(*record)

    def stack(self, stack_id: int) -> list[Frame]:
        """The frames of a stack, innermost first (empty for stack id 0)."""
        frames = self._stacks.get(stack_id)
        if frames is None:
            frames = [Frame(*frame) for frame in self._capture.stack(stack_id)]
            self._stacks[stack_id] = frames
        return frames

    def native_stack(self, native_stack_id: int) -> list[tuple]:
        """A --native capture's native frames, innermost first, symbolised now:
        ``(function or None, file, line, address, object, note)``; ``note``
        says why a frame is unresolved (e.g. ``"build-id mismatch"`` when the
        object's file changed since recording) or is ``"inlined"``."""
        return list(self._capture.native_stack(native_stack_id))

    def merged_stack(self, stack_id: int, native_stack_id: int) -> list[tuple]:
        """One stack from a record's ``stack_id`` and ``native_stack_id``,
        innermost first: ``(function, file, line, kind)`` with kind
        ``"native"`` or ``"python"``; the Python frames stand where the
        interpreter's evaluation loop ran them."""
        return list(self._capture.merged_stack(stack_id, native_stack_id))

    def _allocations(self, rows, top) -> Iterator[Allocation]:
        rows = sorted(rows, key=lambda row: (-row[1], row[0]))
        # Frames are resolved lazily, so the largest few of many stacks cost
        # little when that is all the caller reads.
        for stack_id, nbytes, count in rows if top is None else rows[:top]:
            yield Allocation(stack_id, self.stack(stack_id), nbytes, count)

    def peak_allocations(self, top: int | None = None) -> Iterator[Allocation]:
        """Memory alive at the peak, one entry per stack, largest first
        (the ``top`` largest when given)."""
        return self._allocations(self._capture.peak_allocations(), top)

    def leaks(self, top: int | None = None) -> Iterator[Allocation]:
        """Memory never freed before tracking stopped, per stack, largest first
        (the ``top`` largest when given)."""
        return self._allocations(self._capture.leaked_allocations(), top)
