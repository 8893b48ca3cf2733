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
in :mod:`memlyze.cli`; ``%load_ext memlyze`` gives IPython and Jupyter the
``%%memlyze_flamegraph`` and ``%%memlyze_summary`` cell magics
(:mod:`memlyze.ipython`).
"""

__version__ = "0.1.0"

# Everything below loads on first use. The command line reaches its exec
# without the tracker, threading or the C extension (~5 ms), and a program
# that only records (the always-on case) does not pay for the reading API
# (typing and friends, ~15 ms).
_LAZY_NAMES = {
    "Tracker": "tracker",
    "TrackerError": "tracker",
    "start": "tracker",
    "rss": "_memlyze",  # exact current RSS in bytes
    "rss_peak": "_memlyze",  # and peak RSS
    "Allocation": "file_reader",
    "CaptureError": "file_reader",
    "FileReader": "file_reader",
    "Frame": "file_reader",
    "Record": "file_reader",
}
# Submodules that `import memlyze` used to load, still reachable as attributes.
_SUBMODULES = ("tracker", "_memlyze", "byte_sizes")


def __getattr__(name):
    module_name = _LAZY_NAMES.get(name)
    if module_name is None and name not in _SUBMODULES:
        raise AttributeError(f"module 'memlyze' has no attribute {name!r}")
    import sys

    # Not importlib.import_module: `from . import _memlyze` in the tracker
    # lands here (through hasattr), and importlib would cost it ~0.4 ms.
    qualified_name = f"{__name__}.{module_name or name}"
    __import__(qualified_name)
    module = sys.modules[qualified_name]
    if module_name is None:
        return module
    value = getattr(module, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def load_ipython_extension(ipython):
    """``%load_ext memlyze``: registers %%memlyze_flamegraph and %%memlyze_summary.
    (IPython and the magics load only here, never with ``import memlyze``.)"""
    from .ipython import load_ipython_extension as load

    load(ipython)


def __dir__():
    return sorted(set(globals()) | set(__all__))


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
