"""A drop-in replacement for the standard :mod:`tracemalloc`, on memlyze's engine.

::

    from memlyze import tracemalloc

    tracemalloc.start(10)
    work()
    snapshot = tracemalloc.take_snapshot()
    for stat in snapshot.statistics("lineno")[:10]:
        print(stat)

Snapshots, statistics, filters and tracebacks are the standard module's own
classes, so ``compare_to``, ``filter_traces``, ``dump`` and ``load`` behave as
documented. Differences: every allocation the engine sees is traced — the
PyMem/PyObject domains, and the malloc family and anonymous mmap of the whole
process (which includes PyMem_RawMalloc); blocks allocated where no Python
frame runs have the traceback ``<unknown>:0``; a forked child traces on but
starts with no traces (the standard module copies the parent's); before
Python 3.13 an object reused from a free list keeps the traceback of its
block's first allocation (CPython tells only its own tracemalloc of the
reuse; from 3.13 on PyRefTracer tells memlyze too). ``start()``
also takes ``sample_interval=BYTES``: Poisson byte sampling, each kept block's
size scaled to the bytes it stands for.
"""

from __future__ import annotations

import linecache  # noqa: F401  (the standard module's attribute: tools patch its getline)
from tracemalloc import (  # noqa: F401  (re-exported)
    _compare_grouped_stats,
    _format_size,
    _normalize_filename,
    _Traces,  # pickle finds a Snapshot's classes through sys.modules["tracemalloc"]
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
    "get_traceback_limit", "get_traced_memory", "get_tracemalloc_memory", "is_tracing",
    "reset_peak", "start", "stop", "take_snapshot",
]

_OWNER = "memlyze.tracemalloc"
MAX_NFRAME = 65535  # the standard module's limit
_traceback_limit = 1


def _check_positive_int(name, value, low, high, message):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(message)


def start(nframe: int = 1, *, sample_interval: "int | None" = None) -> None:
    """Starts tracing allocations, keeping up to nframe frames per traceback.

    Does nothing when already tracing (like the standard module). Raises
    RuntimeError when another memlyze recording runs in this process.
    """
    global _traceback_limit
    _check_positive_int("nframe", nframe, 1, MAX_NFRAME,
                        f"the number of frames must be in range [1; {MAX_NFRAME}]")
    if sample_interval is not None:
        _check_positive_int("sample_interval", sample_interval, 1, 2**62,
                            "sample_interval must be a positive number of bytes")
    if is_tracing():
        return
    _live.start(_OWNER, nframe, sample_interval or 0)
    _traceback_limit = nframe


def stop() -> None:
    """Stops tracing and forgets every trace."""
    _live.stop(_OWNER)


def is_tracing() -> bool:
    """True while tracing."""
    return _live.is_tracing(_OWNER)


def clear_traces() -> None:
    """Forgets every trace (and resets the peak); does nothing when not tracing."""
    if is_tracing():
        _live.clear()


def reset_peak() -> None:
    """Makes the peak of get_traced_memory() the current size."""
    if is_tracing():
        _live.reset_peak()


def get_traced_memory() -> tuple:
    """(current, peak) size in bytes of the traced blocks; (0, 0) when not tracing."""
    if not is_tracing():
        return (0, 0)
    return _live.traced_memory()


def get_traceback_limit() -> int:
    """The number of frames kept per traceback (start()'s nframe)."""
    return _traceback_limit


def get_tracemalloc_memory() -> int:
    """Bytes the tracer uses to hold its traces: the live table and the
    interned frames and stacks, like the standard module's tables (the
    engine's event buffers, bounded per thread, are not counted)."""
    return _live.traces_memory()


def _get_object_traceback(obj) -> "tuple | None":
    """The frames ((filename, lineno), ...) where obj was allocated, most
    recent first, or None when not traced (the standard module's private
    function of that name)."""
    if not is_tracing():
        return None
    return _live.object_frames(obj)


def get_object_traceback(obj) -> "Traceback | None":
    """The Traceback where obj was allocated, or None when not traced."""
    frames = _get_object_traceback(obj)
    return None if frames is None else Traceback(frames)


def _get_traces() -> list:
    """Every live block as (domain, size, frames, total_nframe), frames most
    recent first; [] when not tracing (the standard module's private function
    of that name, which Snapshot takes)."""
    if not is_tracing():
        return []
    return _live.traces()


def take_snapshot() -> Snapshot:
    """A Snapshot of the traces of every live block."""
    # Through the module's names, as the standard module does: tests and
    # tools patch is_tracing, _get_traces and get_traceback_limit.
    if not is_tracing():
        raise RuntimeError("the tracemalloc module must be tracing memory "
                           "allocations to take a snapshot")
    return Snapshot(_get_traces(), get_traceback_limit())
