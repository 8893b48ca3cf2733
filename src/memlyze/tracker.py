"""Recording from inside a Python process: ``Tracker`` and ``start``.

One recording at a time per process: the engine hooks the process-wide
allocators, so a second ``Tracker`` while one runs is an error.
"""

from __future__ import annotations

import os
import threading

from . import _memlyze

__all__ = ["Tracker", "TrackerError", "start"]

# Options of SPEC 1.2 that the engine does not offer yet, with the value that
# means "off". Accepted (so code written against the full API keeps its
# shape); anything but the default is refused with a clear message.
_NOT_YET_SUPPORTED = {
    "sample_rate": 1.0,
    "sample_interval": None,
    "native": False,
    "include_patterns": None,
    "exclude_patterns": None,
    "aggregate": False,
    "ring": None,
    "seed": None,
}

# The engine's limits (src/binding/tracker_binding.c).
MAX_STACK_DEPTH_LIMIT = 4096
MAX_RSS_INTERVAL = 3600.0

_lock = threading.Lock()
_running: "Tracker | None" = None


class TrackerError(RuntimeError):
    """A tracker could not start or stop (the message says why)."""


def _check_options(max_stack_depth, rss_interval):
    if isinstance(max_stack_depth, bool) or not isinstance(max_stack_depth, int):
        raise TypeError(f"max_stack_depth must be an int, not {type(max_stack_depth).__name__}")
    if not 1 <= max_stack_depth <= MAX_STACK_DEPTH_LIMIT:
        raise ValueError(f"max_stack_depth must be between 1 and {MAX_STACK_DEPTH_LIMIT} "
                         f"(got {max_stack_depth})")
    if isinstance(rss_interval, bool) or not isinstance(rss_interval, (int, float)):
        raise TypeError(f"rss_interval must be a number, not {type(rss_interval).__name__}")
    if not 0 <= rss_interval <= MAX_RSS_INTERVAL:
        raise ValueError(f"rss_interval must be between 0 and {MAX_RSS_INTERVAL:g} seconds "
                         f"(got {rss_interval})")


class Tracker:
    """Records every allocation of this process into a capture file.

    Use it as a context manager::

        with memlyze.Tracker("out.mlyze") as tracker:
            work()

    or call :meth:`start` and :meth:`stop` yourself. ``force=True`` overwrites
    an existing capture; otherwise an existing file is an error.
    """

    def __init__(
        self,
        path,
        *,
        max_stack_depth: int = 128,
        python_allocators: bool = False,
        track_gc: bool = True,
        rss_interval: float = 0.01,
        force: bool = False,
        command: str | None = None,
        **later_options,
    ):
        for name, value in later_options.items():
            if name not in _NOT_YET_SUPPORTED:
                raise TypeError(f"Tracker() got an unexpected keyword argument {name!r}")
            if value != _NOT_YET_SUPPORTED[name]:
                raise NotImplementedError(f"the {name!r} option is not supported yet")
        _check_options(max_stack_depth, rss_interval)
        self.path = os.fspath(path)
        self.max_stack_depth = max_stack_depth
        self.python_allocators = bool(python_allocators)
        self.track_gc = bool(track_gc)
        self.rss_interval = float(rss_interval)
        self.force = bool(force)
        self.command = command
        self._started = False
        self._stopped = False
        self._pid = None

    def __repr__(self):
        state = "running" if self.is_running else ("stopped" if self._stopped else "not started")
        return f"<memlyze.Tracker {self.path!r} {state}>"

    @property
    def is_running(self) -> bool:
        """True between start() and stop(), in the process that started it."""
        return (
            self._started
            and not self._stopped
            and self._pid == os.getpid()
            and _memlyze.is_tracking()
        )

    def start(self) -> "Tracker":
        """Starts recording; returns self. Raises if a tracker already runs."""
        global _running
        if self._started:
            raise TrackerError("this tracker was already started (make a new Tracker to record again)")
        with _lock:
            if _memlyze.is_tracking() or (_running is not None and _running.is_running):
                raise TrackerError("a memlyze tracker is already running in this process")
            command = self.command
            if command is None:
                import shlex
                import sys

                command = shlex.join(sys.orig_argv) if getattr(sys, "orig_argv", None) else ""
            _memlyze.start_tracking(
                self.path,
                overwrite=self.force,
                max_stack_depth=self.max_stack_depth,
                python_allocators=self.python_allocators,
                track_gc=self.track_gc,
                rss_interval=self.rss_interval,
                command=command,
            )
            self._started = True
            self._pid = os.getpid()
            _running = self
            set_thread_name = getattr(_memlyze, "set_thread_name", None)
            if set_thread_name is not None:
                set_thread_name(threading.current_thread().name)
        return self

    def stop(self) -> None:
        """Stops recording and completes the capture file.

        Calling it again, or in a forked child (where recording already
        stopped without touching the parent's file), does nothing.
        """
        global _running
        if not self._started or self._stopped:
            return
        if self._pid != os.getpid():
            return
        with _lock:
            self._stopped = True
            if _running is self:
                _running = None
            _memlyze.stop_tracking()

    def snapshot(self) -> None:
        """Marks this moment in the capture; reports can select it later."""
        if not self.is_running:
            raise TrackerError("the tracker is not running")
        _memlyze.snapshot()

    def __enter__(self) -> "Tracker":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start(path, **options) -> Tracker:
    """Starts a :class:`Tracker` (same options) and returns it; call ``.stop()``."""
    return Tracker(path, **options).start()
