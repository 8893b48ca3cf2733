"""The limits a test declares: ``limit_memory`` and ``limit_leaks`` markers,
and the ini default. Parsed at collection; a test whose marker cannot be
used errors at its setup with one line naming it (no traceback)."""

from __future__ import annotations

from typing import Callable, NamedTuple

import pytest

from ..byte_sizes import parse_byte_size

MARKER_LINES = (
    "limit_memory(limit): fail the test when the peak of its own allocations exceeds limit "
    "(e.g. \"24 MB\"); limit may be a dict from parameter id to limit (memlyze)",
    "limit_leaks(limit, *, filter_fn=None): fail the test when the memory it allocated and did "
    "not free exceeds limit; filter_fn(stack) -> bool selects the stacks counted (memlyze)",
)


class LimitError(Exception):
    """A marker that cannot be used (the message says why, naming the test)."""


class Limits(NamedTuple):
    memory: int | None = None  # bytes
    memory_text: str = ""  # as written, for messages
    memory_source: str = ""  # "limit_memory" or "memlyze_limit_memory (ini)"
    leaks: int | None = None
    leaks_text: str = ""
    leak_filter: Callable | None = None

    @property
    def any(self) -> bool:
        return self.memory is not None or self.leaks is not None


NO_LIMITS = Limits()
LIMITS = pytest.StashKey[Limits]()  # an item's limits, when it has any
LIMIT_ERROR = pytest.StashKey[str]()  # why an item's markers cannot be used


def _parameter_id(item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.id if callspec is not None else None


def _size_for_item(item, marker_name: str, value) -> tuple[int, str]:
    """(bytes, text) of a marker's limit for this item. A dict maps parameter
    ids to limits, "*" to the limit of the ids it does not name; an id it
    does not name without "*" is an error (a typo must not drop a limit)."""
    if isinstance(value, dict):
        parameter = _parameter_id(item)
        if parameter is None:
            raise LimitError(f"{item.nodeid}: {marker_name} with a dict of limits needs a "
                             f"parametrized test")
        if parameter in value:
            value = value[parameter]
        elif "*" in value:
            value = value["*"]
        else:
            known = ", ".join(sorted(map(str, value)))
            raise LimitError(f"{item.nodeid}: {marker_name} has no limit for parameter id "
                             f"{parameter!r} (it has: {known}; add \"*\" for a default)")
    try:
        return parse_byte_size(value), str(value)
    except ValueError as error:
        raise LimitError(f"{item.nodeid}: {marker_name}: {error}") from None


def _single_argument(item, marker):
    if len(marker.args) != 1:
        raise LimitError(f"{item.nodeid}: {marker.name} takes one limit, e.g. "
                         f"{marker.name}(\"24 MB\") (got {len(marker.args)} arguments)")
    return marker.args[0]


def limits_for(item, default_memory: tuple[int, str] | None) -> Limits:
    """The limits that apply to item: its closest markers (a pytest.param's
    marks are closer than the function's, the function's than the class's),
    then the ini default for memory. Raises LimitError."""
    limits = {}
    marker = item.get_closest_marker("limit_memory")
    if marker is not None:
        unknown = set(marker.kwargs)
        if unknown:
            raise LimitError(f"{item.nodeid}: limit_memory got unknown keyword "
                             f"{sorted(unknown)[0]!r}")
        size = _size_for_item(item, "limit_memory", _single_argument(item, marker))
        limits.update(memory=size[0], memory_text=size[1], memory_source="limit_memory")
    if "memory" not in limits and default_memory is not None:
        limits.update(memory=default_memory[0], memory_text=default_memory[1],
                      memory_source="memlyze_limit_memory (ini)")
    marker = item.get_closest_marker("limit_leaks")
    if marker is not None:
        unknown = set(marker.kwargs) - {"filter_fn"}
        if unknown:
            raise LimitError(f"{item.nodeid}: limit_leaks got unknown keyword "
                             f"{sorted(unknown)[0]!r}")
        leak_filter = marker.kwargs.get("filter_fn")
        if leak_filter is not None and not callable(leak_filter):
            raise LimitError(f"{item.nodeid}: limit_leaks filter_fn must be callable")
        size = _size_for_item(item, "limit_leaks", _single_argument(item, marker))
        limits.update(leaks=size[0], leaks_text=size[1], leak_filter=leak_filter)
    return Limits(**limits) if limits else NO_LIMITS


def parse_ini_limit(text: str) -> tuple[int, str] | None:
    """The ini default limit, or None when unset; ValueError says why not."""
    text = (text or "").strip()
    if not text:
        return None
    return parse_byte_size(text), text
