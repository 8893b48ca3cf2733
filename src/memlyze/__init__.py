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

from .file_reader import Allocation, CaptureError, FileReader, Frame, Record
from .tracker import Tracker, TrackerError, start
from ._memlyze import rss, rss_peak  # exact current and peak RSS in bytes (issue #6)

# Room for later: rss() and rss_peak() (SPEC 1.2), the compatibility modules
# memlyze.tracemalloc, memlyze.mprofile and memlyze.cpymemtrace.

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
