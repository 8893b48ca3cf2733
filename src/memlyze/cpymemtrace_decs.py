"""Decorators over :mod:`memlyze.cpymemtrace`, as pymemtrace's
``cpymemtrace_decs``: each call of the decorated function runs inside a new
Profile, Trace or ReferenceTracing context with the given parameters::

    @cpymemtrace_decs.profile(d_rss_trigger=0, message="load")
    def load(path): ...

Exceptions of the function propagate; the log is closed either way.
"""

from __future__ import annotations

import functools

from . import cpymemtrace

__all__ = ["profile", "trace", "reference_tracing"]

_DECORATOR_NAMES = {cpymemtrace.Profile: "profile", cpymemtrace.Trace: "trace",
                    cpymemtrace.ReferenceTracing: "reference_tracing"}


def _decorator(context_type, parameters, first):
    if callable(first):
        raise TypeError(f"use @cpymemtrace_decs.{_DECORATOR_NAMES[context_type]}(...) with "
                        "parentheses: the decorator takes the context's parameters")
    # Builds one context now so bad parameters fail at decoration time.
    context_type(**parameters)

    def decorate(function):
        if not callable(function):
            raise TypeError(f"{context_type.__name__} decorator needs a callable, "
                            f"not {type(function).__name__}")

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with context_type(**parameters):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def profile(d_rss_trigger: int = -1, message: str | None = None, filepath=None):
    """Runs each call under cpymemtrace.Profile(d_rss_trigger, message, filepath)."""
    return _decorator(cpymemtrace.Profile,
                      dict(d_rss_trigger=d_rss_trigger, message=message, filepath=filepath),
                      d_rss_trigger)


def trace(d_rss_trigger: int = -1, message: str | None = None, filepath=None):
    """Runs each call under cpymemtrace.Trace(d_rss_trigger, message, filepath)."""
    return _decorator(cpymemtrace.Trace,
                      dict(d_rss_trigger=d_rss_trigger, message=message, filepath=filepath),
                      d_rss_trigger)


def reference_tracing(include_builtins: bool = False, include_tp_names=(), exclude_tp_names=(),
                      gc_collect_on_exit: int = 2, message: str | None = None, filepath=None):
    """Runs each call under cpymemtrace.ReferenceTracing(...) with these parameters."""
    return _decorator(cpymemtrace.ReferenceTracing,
                      dict(include_builtins=include_builtins, include_tp_names=include_tp_names,
                           exclude_tp_names=exclude_tp_names,
                           gc_collect_on_exit=gc_collect_on_exit, message=message,
                           filepath=filepath),
                      include_builtins)
