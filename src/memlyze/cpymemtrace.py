"""pymemtrace's ``cPyMemTrace``, several times cheaper.

::

    from memlyze import cpymemtrace

    with cpymemtrace.Profile(d_rss_trigger=-1, message="load"):   # calls and returns, Python and C
        load()
    with cpymemtrace.Trace():                                      # Python calls, lines, returns
        load()
    with cpymemtrace.ReferenceTracing(include_tp_names=["Node"]) as tracing:
        build_tree()
        tracing.live_object_counts()    # {'module.Node': 1234}

Each context writes its own log file, ``YYYYmmdd_HHMMSS_<pid>_<P|T|R>_<depth>.log``
in the current directory, or in ``filepath`` when that is an existing
directory; any other ``filepath`` is the log file itself (created or
truncated, as in pymemtrace). ``log_file_path`` names it. The format is
described in docs/cpymemtrace.md.

``d_rss_trigger``: -1 logs the events where the RSS moved by at least a page
since the last logged event, 0 logs every event, N > 0 logs moves of at least
N bytes. The event just before each logged one is logged too (``PREV:``).

Profile and Trace hook the calling thread only (sys.setprofile/settrace);
they nest, each inner context taking over the hook until it exits.
ReferenceTracing traces the Python classes (not builtin types, see its
docstring) and does not nest.
"""

from __future__ import annotations

from . import _memlyze

__all__ = ["Profile", "Trace", "ReferenceTracing", "rss", "rss_peak"]

rss = _memlyze.rss
rss_peak = _memlyze.rss_peak


class Profile(_memlyze.RssTracer):
    """Logs the RSS at Python and C calls and returns (PyEval_SetProfile)."""

    def __init__(self, d_rss_trigger: int = -1, message: str | None = None, filepath=None):
        super().__init__("profile", _checked_trigger(d_rss_trigger), message, filepath)


class Trace(_memlyze.RssTracer):
    """Logs the RSS at Python calls, lines and returns (PyEval_SetTrace)."""

    def __init__(self, d_rss_trigger: int = -1, message: str | None = None, filepath=None):
        super().__init__("trace", _checked_trigger(d_rss_trigger), message, filepath)


class ReferenceTracing(_memlyze.ReferenceTracer):
    """Logs the creation (NEW) and destruction (DEL) of the objects of the
    selected types, with the live count of each type.

    Traced are the Python classes (created by ``class`` statements or
    ``type()``), including those created while tracing, whose name or
    qualified name is in ``include_tp_names`` (empty: all) and not in
    ``exclude_tp_names``. On exit a ``gc.collect(gc_collect_on_exit)`` runs
    first (-1: none), then every slot is restored and the live counts are
    written. ``include_builtins=True`` needs Python 3.13 (PyRefTracer) and
    raises NotImplementedError before it: builtin types reuse objects from
    free lists, which per-type slots cannot see.
    """

    def __init__(self, include_builtins: bool = False, include_tp_names=(),
                 exclude_tp_names=(), gc_collect_on_exit: int = 2,
                 message: str | None = None, filepath=None):
        super().__init__(include_builtins, include_tp_names, exclude_tp_names,
                         gc_collect_on_exit, message, filepath)


def _checked_trigger(d_rss_trigger) -> int:
    if isinstance(d_rss_trigger, bool) or not isinstance(d_rss_trigger, int):
        raise TypeError(f"d_rss_trigger must be an int, not {type(d_rss_trigger).__name__}")
    if d_rss_trigger < -1:
        raise ValueError("d_rss_trigger must be -1 (one page), 0 (every event) or a positive "
                         f"number of bytes, not {d_rss_trigger}")
    return d_rss_trigger
