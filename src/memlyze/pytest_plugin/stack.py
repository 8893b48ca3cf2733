"""What a ``limit_leaks`` ``filter_fn`` receives: one leaked stack."""

from __future__ import annotations

from typing import NamedTuple


class StackFrame(NamedTuple):
    """One Python frame of a leaked allocation's stack."""

    function: str
    filename: str
    lineno: int


class Stack(NamedTuple):
    """The Python stack of leaked allocations, innermost frame first.

    ``filter_fn(stack)`` returns True to count the stack's bytes as a leak,
    False to ignore them (as pytest-memray's ``filter_fn`` does).
    """

    frames: tuple[StackFrame, ...]
    size: int  # bytes leaked by this stack (all its allocations)
    count: int  # allocations leaked by this stack
