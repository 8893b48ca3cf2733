"""The in-memory recording behind memlyze.tracemalloc and memlyze.mprofile.

A recording without a capture file: the engine's writer thread keeps the
live table (what is allocated now, with its stack), and these functions read
it. One recording at a time per process, shared with memlyze.Tracker.
"""

from __future__ import annotations

import math
import os
import threading

from . import _memlyze

# The engine keeps at most this many frames per stack (tracker_binding.c).
ENGINE_MAX_DEPTH = 4096

_lock = threading.Lock()
_owner: "str | None" = None  # the module whose recording runs
_sample_interval = 0  # bytes; 0: every allocation is traced
_depth = 1
_fork_hook_installed = False


def _start_engine(depth: int, sample_interval: int) -> None:
    # tracemalloc's rules for the traces: total_nframe counts the frames of
    # a cut stack, and a block reused from a free list takes the stack of
    # its reuse (3.13+; see new_references.h).
    options = dict(max_stack_depth=min(depth, ENGINE_MAX_DEPTH), python_allocators=True,
                   track_gc=False, rss_interval=0.0, live_table=True, total_frames=True,
                   new_references=True)
    if sample_interval:
        options["sample_interval"] = sample_interval
    _memlyze.start_tracking(None, **options)


def start(owner: str, depth: int, sample_interval: int = 0) -> bool:
    """Starts an in-memory recording for module owner; False when that module's
    recording already runs. Raises RuntimeError when another recording runs."""
    global _owner
    with _lock:
        if _owner == owner and _memlyze.is_tracking():
            return False
        if _memlyze.is_tracking():
            raise RuntimeError("a memlyze recording is already running in this process "
                               f"(stop it before starting {owner})")
        _start_engine(depth, sample_interval)
        _owner = owner
        _remember(depth, sample_interval)
        return True


def _remember(depth: int, interval: int) -> None:
    """Keeps the options for a forked child, which traces on (like tracemalloc)."""
    global _depth, _sample_interval, _fork_hook_installed
    _depth, _sample_interval = depth, interval
    if not _fork_hook_installed:
        os.register_at_fork(after_in_child=_restart_in_child)
        _fork_hook_installed = True


def _restart_in_child() -> None:
    """In a forked child the engine has stopped (the writer thread stayed in
    the parent): start a fresh recording, so tracing goes on with the child's
    own allocations (the parent's traces are not carried over)."""
    global _owner
    if _owner is None:
        return
    try:
        _memlyze.stop_tracking()  # takes out the hooks the parent's recording left
        _start_engine(_depth, _sample_interval)
    except Exception:  # never break the child: it just does not trace
        _owner = None


def estimated_size(size: int) -> int:
    """The bytes a sampled block of size bytes stands for: a block is kept
    with probability 1 - exp(-size / interval), so it counts size / that."""
    if not _sample_interval or size <= 0:
        return size
    kept = -math.expm1(-size / _sample_interval)
    return round(size / kept) if kept > 0 else size


def stop(owner: str) -> None:
    """Stops owner's recording and forgets its traces; nothing when not running."""
    global _owner
    with _lock:
        if _owner != owner:
            return
        _owner = None
        if _memlyze.is_tracking():
            _memlyze.stop_tracking()


def is_tracing(owner: str) -> bool:
    """True while owner's recording runs."""
    return _owner == owner and _memlyze.is_tracking()


def traces() -> list:
    """Every live block as (domain, size, frames, total_nframe), frames being
    ((filename, lineno), ...) most recent first, like _tracemalloc._get_traces().
    When sampling, sizes are the estimated bytes each kept block stands for."""
    raw = _memlyze.live_traces()
    if not _sample_interval:
        return raw
    return [(domain, estimated_size(size), frames, total)
            for domain, size, frames, total in raw]


def traced_memory() -> tuple:
    """(current, peak) traced bytes; (0, 0) when not recording. When sampling,
    current is estimated from the kept blocks and the peak scaled alike."""
    current, peak = _memlyze.live_traced_memory()
    if not _sample_interval or not current:
        return current, peak
    estimate = sum(size for _, size, _, _ in traces())
    return estimate, max(estimate, round(peak * estimate / current))


def object_frames(obj):
    """The frames of the block holding obj, or None."""
    return _memlyze.live_object_frames(obj)


def clear() -> None:
    _memlyze.live_clear()


def reset_peak() -> None:
    _memlyze.live_reset_peak()


def traces_memory() -> int:
    """Bytes of the tables holding the traces: the live table and the
    interned strings, frames and stacks (0 when not recording)."""
    return _memlyze.live_memory()


def tracker_memory() -> int:
    """Bytes the tracker itself holds (its tables, buffers and caches)."""
    return _memlyze.tracker_memory()
