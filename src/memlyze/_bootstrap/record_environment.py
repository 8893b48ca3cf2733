"""The environment contract between ``memlyze record`` and the profiled process.

Parent side (the CLI, before exec): :func:`make_environment` returns the
environment to exec with. Child side (the ``sitecustomize`` hook, at
interpreter start-up): :func:`activate` starts the tracker and arranges for
it to stop when the program's main code has ended.
"""

from __future__ import annotations

import os
from typing import Mapping

ENV_VAR = "MEMLYZE_RECORD"
BOOTSTRAP_DIR = os.path.dirname(os.path.abspath(__file__))
CONFIG_VERSION = 1

# The options a recording passes to the tracker, with their defaults.
TRACKER_OPTIONS = {
    "max_stack_depth": 128,
    "python_allocators": False,
    "track_gc": True,
    "rss_interval": 0.01,
    "sample_rate": 1.0,
    "sample_interval": None,
    "include_patterns": [],
    "exclude_patterns": [],
    "native": False,
    "follow_fork": False,
    "aggregate": False,
    "aggregate_interval": 60.0,
}


def make_environment(environ: Mapping[str, str], path: str, command: str, **options) -> dict:
    """The environment for the command: ``environ`` plus the hook.

    ``path`` is the capture file, already created (empty) by the caller: the
    first Python process that finds it still empty records into it.
    """
    import json

    unknown = set(options) - set(TRACKER_OPTIONS)
    if unknown:
        raise TypeError(f"unknown recording options: {', '.join(sorted(unknown))}")
    config = {
        "version": CONFIG_VERSION,
        "path": os.path.abspath(path),
        "command": command,
        "pythonpath": environ.get("PYTHONPATH"),
        **TRACKER_OPTIONS,
        **options,
    }
    env = dict(environ)
    env[ENV_VAR] = json.dumps(config)
    existing = environ.get("PYTHONPATH")
    env["PYTHONPATH"] = BOOTSTRAP_DIR + (os.pathsep + existing if existing else "")
    return env


def activate(config: dict) -> str | None:
    """Starts tracking as ``config`` says. Returns None, or why it could not."""
    import atexit

    try:
        version = config.get("version")
        if version != CONFIG_VERSION:
            return f"MEMLYZE_RECORD has version {version!r}, this memlyze expects {CONFIG_VERSION}"
        path = config["path"]
        options = {name: config.get(name, default) for name, default in TRACKER_OPTIONS.items()}
        command = config.get("command") or ""
    except (AttributeError, KeyError, TypeError) as error:
        return f"bad MEMLYZE_RECORD environment variable: {error!r}"

    # Only the first Python process records: the capture file was created
    # empty by `memlyze record`; a non-empty one belongs to an earlier process
    # (one that ignored PYTHONPATH, e.g. python -E, cannot get here).
    try:
        if os.path.getsize(path) > 0:
            return None
    except OSError:
        pass

    from memlyze.tracker import Tracker

    try:
        tracker = Tracker(path, force=True, command=command, **options)
        tracker.start()
    except (OSError, ValueError, TypeError, RuntimeError) as error:
        return f"cannot start tracking into {path}: {error}"
    # Registered now, before the program's own handlers, so it runs after
    # them: tracking ends when the program's main code (and its atexit
    # work) has ended, before the interpreter shuts down.
    atexit.register(_stop_at_exit, tracker)
    return None


def _stop_at_exit(tracker) -> None:
    import sys

    try:
        tracker.stop()  # does nothing in a forked child
    except Exception as error:  # never change the program's exit status
        try:
            sys.stderr.write(f"memlyze: error: could not complete {tracker.path}: {error}\n")
            sys.stderr.flush()
        except Exception:
            pass
