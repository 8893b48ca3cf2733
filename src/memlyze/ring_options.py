"""The flight recorder's options (``--ring``, ``--ring-dump-at``,
``--ring-max-memory``; ``Tracker(ring=...)``): parsing and the cgroup's
memory limit a percentage refers to. See docs/ring.md.

Imported by every process that records with ``--ring`` at start-up: only
``os`` at the top.
"""

from __future__ import annotations

import os

# The ring's own memory unless --ring-max-memory says otherwise.
DEFAULT_RING_MAX_MEMORY = 64 * 1024**2
# The largest window by count: 2^40 events would need 32 TiB of ring.
MAX_RING_EVENTS = 2**40
MAX_RING_SECONDS = 10**6
# cgroup v1 writes its "no limit" as a number near 2^63.
_NO_LIMIT = 2**62

_TIME_UNITS = {"s": 1, "min": 60, "h": 3600}


class RingOptionError(ValueError):
    """A ring option that cannot be used (the message says why)."""


def parse_ring(value) -> tuple[int, float]:
    """(events, seconds) for a --ring value: ``30s``, ``5min``, ``1h``
    (a time window) or a whole number of events (``1000000``); an int is
    events. Exactly one of the two is nonzero."""
    if isinstance(value, bool) or value is None:
        raise RingOptionError(f"--ring expects SECONDS (e.g. 30s) or EVENTS (e.g. 1000000), "
                              f"not {value!r}")
    if isinstance(value, int):
        events, text = value, str(value)
    else:
        text = str(value).strip()
        unit = next((name for name in sorted(_TIME_UNITS, key=len, reverse=True)
                     if text.lower().endswith(name)), None)
        if unit is not None:
            return 0, _parse_seconds(text, unit)
        if not (text.isdigit() and text.isascii()):
            raise RingOptionError(f"--ring expects SECONDS with a unit (30s, 5min, 1h) or a "
                                  f"whole number of EVENTS, not {text!r}")
        events = int(text)
    if not 1 <= events <= MAX_RING_EVENTS:
        raise RingOptionError(f"--ring {text}: the number of events must be from 1 to 2**40")
    return events, 0.0


def _parse_seconds(text: str, unit: str) -> float:
    number = text[: len(text) - len(unit)].strip()
    try:
        seconds = float(number) * _TIME_UNITS[unit]
    except ValueError:
        raise RingOptionError(f"--ring expects SECONDS such as 30s, not {text!r}") from None
    if not 0.001 <= seconds <= MAX_RING_SECONDS:  # also rejects nan and inf
        raise RingOptionError(f"--ring {text}: the window must be from 1 ms to "
                              f"{MAX_RING_SECONDS} s")
    return seconds


def parse_max_memory(value) -> int:
    """Bytes for --ring-max-memory (``64MiB``, ``1GiB``, an int); None: the default."""
    from .byte_sizes import parse_byte_size

    if value is None:
        return DEFAULT_RING_MAX_MEMORY
    try:
        size = parse_byte_size(value)
    except ValueError as error:
        raise RingOptionError(f"--ring-max-memory: {error}") from None
    if size < 1024**2:
        raise RingOptionError(f"--ring-max-memory {value}: the ring needs at least 1MiB")
    return size


def parse_dump_at(value) -> int:
    """RSS bytes for --ring-dump-at: a size (``2GiB``) or a percentage of this
    process's cgroup memory limit (``80%``); None: 0 (no threshold)."""
    from .byte_sizes import parse_byte_size

    if value is None:
        return 0
    text = str(value).strip()
    if isinstance(value, str) and text.endswith("%"):
        try:
            percent = float(text[:-1])
        except ValueError:
            raise RingOptionError(f"--ring-dump-at expects RSS (e.g. 2GiB) or a percentage "
                                  f"of the cgroup's memory limit (e.g. 80%), not {text!r}") from None
        if not 0 < percent <= 100:
            raise RingOptionError(f"--ring-dump-at {text}: the percentage must be above 0 and "
                                  f"at most 100")
        limit = cgroup_memory_limit()
        if limit is None:
            raise RingOptionError(f"--ring-dump-at {text}: this process's cgroup sets no memory "
                                  f"limit (memory.max or memory.limit_in_bytes); give RSS in "
                                  f"bytes instead, e.g. 2GiB")
        return max(1, int(limit * percent / 100))
    try:
        return parse_byte_size(value)
    except ValueError as error:
        raise RingOptionError(f"--ring-dump-at: {error} or a percentage such as 80%") from None


def cgroup_memory_limit(proc_cgroup: str = "/proc/self/cgroup",
                        root: str = "/sys/fs/cgroup") -> int | None:
    """The tightest memory limit of this process's cgroup and its ancestors,
    in bytes (cgroup v2 ``memory.max``, v1 ``memory.limit_in_bytes``), or
    None when none is set."""
    try:
        with open(proc_cgroup) as lines:
            entries = [line.rstrip("\n").split(":", 2) for line in lines]
    except OSError:
        return None
    limits = []
    for entry in entries:
        if len(entry) != 3:
            continue
        _, controllers, path = entry
        if "memory" in controllers.split(","):
            limits += _limits_along(os.path.join(root, "memory"), path, "memory.limit_in_bytes")
        elif controllers == "":
            for mount in (root, os.path.join(root, "unified")):
                limits += _limits_along(mount, path, "memory.max")
    limits = [limit for limit in limits if limit < _NO_LIMIT]
    return min(limits) if limits else None


def _limits_along(mount: str, path: str, name: str) -> list[int]:
    """The limits in file name of the cgroup at path below mount and of its
    ancestors up to mount. Inside a cgroup namespace the mount's root may be
    the cgroup itself: the longest tail of path that exists below mount is
    taken."""
    parts = [part for part in path.split("/") if part]
    directory = None
    for start in range(len(parts) + 1):
        candidate = os.path.join(mount, *parts[start:])
        if os.path.isfile(os.path.join(candidate, name)):
            directory = candidate
            break
    limits = []
    while directory is not None:
        value = _read_limit(os.path.join(directory, name))
        if value is not None:
            limits.append(value)
        if os.path.normpath(directory) == os.path.normpath(mount):
            break
        directory = os.path.dirname(directory)
    return limits


def _read_limit(path: str) -> int | None:
    try:
        with open(path) as file:
            text = file.read().strip()
    except OSError:
        return None
    if text == "max" or not text.isdigit():
        return None
    return int(text)
