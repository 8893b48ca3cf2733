"""mprofile's API on memlyze's engine.

::

    from memlyze import mprofile

    mprofile.start(max_frames=128, sample_rate=128 * 1024)
    snapshot = mprofile.take_snapshot()

``sample_rate`` is mprofile's mean number of BYTES between samples (0 traces
every allocation); it becomes the engine's Poisson byte sampling interval.
Snapshots and statistics are the standard tracemalloc classes, whose API
mprofile's mirror.
"""

from __future__ import annotations

from tracemalloc import (  # noqa: F401  (re-exported)
    BaseFilter,
    DomainFilter,
    Filter,
    Frame,
    Snapshot,
    Statistic,
    StatisticDiff,
    Trace,
    Traceback,
)

from . import _live

__all__ = [
    "BaseFilter", "DomainFilter", "Filter", "Frame", "Snapshot", "Statistic",
    "StatisticDiff", "Trace", "Traceback", "clear_traces", "get_object_traceback",
    "get_sample_rate", "get_traceback_limit", "get_traced_memory",
    "get_tracemalloc_memory", "is_tracing", "reset_peak", "start", "stop", "take_snapshot",
]

_OWNER = "memlyze.mprofile"
_max_frames = 128
_sample_rate = 0


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name} must be at least {low} (got {value})")


def start(max_frames: int = 128, sample_rate: int = 0) -> None:
    """Starts profiling: up to max_frames frames per trace, one sample per
    sample_rate bytes allocated on average (0: every allocation). Does nothing
    when already profiling."""
    global _max_frames, _sample_rate
    _check_int("max_frames", max_frames, 1)
    _check_int("sample_rate", sample_rate, 0)
    if is_tracing():
        return
    _live.start(_OWNER, max_frames, sample_rate)
    _max_frames = max_frames
    _sample_rate = sample_rate


def stop() -> None:
    """Stops profiling and forgets every trace."""
    _live.stop(_OWNER)


def is_tracing() -> bool:
    return _live.is_tracing(_OWNER)


def clear_traces() -> None:
    """Forgets every trace; does nothing when not profiling."""
    if is_tracing():
        _live.clear()


def reset_peak() -> None:
    if is_tracing():
        _live.reset_peak()


def get_sample_rate() -> int:
    """The mean bytes between samples given to start() (0: every allocation)."""
    return _sample_rate


def get_traceback_limit() -> int:
    return _max_frames


def get_traced_memory() -> tuple:
    """(current, peak) traced bytes; (0, 0) when not profiling."""
    if not is_tracing():
        return (0, 0)
    return _live.traced_memory()


def get_tracemalloc_memory() -> int:
    """Bytes the profiler itself uses."""
    return _live.tracker_memory()


def get_object_traceback(obj) -> "Traceback | None":
    if not is_tracing():
        return None
    frames = _live.object_frames(obj)
    return None if frames is None else Traceback(frames)


def take_snapshot() -> Snapshot:
    if not is_tracing():
        raise RuntimeError("the mprofile module must be tracing memory "
                           "allocations to take a snapshot")
    return Snapshot(_live.traces(), _max_frames)
