"""memlyze: a memory profiler for CPython on Linux x86-64.

In-process API::

    import memlyze

    with memlyze.Tracker("out.mlyze") as tracker:
        work()
        tracker.snapshot()

    tracker = memlyze.start("trace.mlyze")
    ...
    tracker.stop()

    reader = memlyze.FileReader("out.mlyze")
    reader.summary["peak_bytes"]

The command line (``memlyze record``, ``run``, ``stats``, ``summary``) lives
in :mod:`memlyze.cli`.
"""

__version__ = "0.1.0"

from .tracker import Tracker, TrackerError, start
from ._memlyze import rss, rss_peak  # exact current and peak RSS in bytes

# The reading API loads on first use: a program that only records (the
# always-on case) does not pay for importing it (typing and friends, ~15 ms).
_READING_NAMES = ("Allocation", "CaptureError", "FileReader", "Frame", "Record")


def __getattr__(name):
    if name in _READING_NAMES:
        from . import file_reader

        return getattr(file_reader, name)
    raise AttributeError(f"module 'memlyze' has no attribute {name!r}")

__all__ = [
    "Allocation",
    "CaptureError",
    "FileReader",
    "Frame",
    "Record",
    "Tracker",
    "TrackerError",
    "__version__",
    "rss",
    "rss_peak",
    "start",
]
