"""The recording ``memlyze attach`` starts inside a process: this module runs
there (imported by target_entry.py), and keeps the one attached tracker.

A recording ends by ``memlyze detach``, by its duration (a thread of ours
sleeps that long, then stops it), or with the program (an atexit handler;
the deaths atexit misses are the engine's exit paths). Ending it takes out
everything attaching put in: the tracker's hooks and threads, our thread,
the atexit handler, the wrap of threading.Thread that names threads.

At the top this imports only what any Python 3 can load: the request's
interpreter is compared with this one before the engine is loaded.
"""

from __future__ import annotations

import _thread
import atexit
import os
import sys

from memlyze._bootstrap import record_environment

PROTOCOL_VERSION = 1
# The request fields that are Tracker options (memlyze record's, but for
# following subprocesses and forks, which need the hook at start-up).
TRACKER_OPTIONS = ("max_stack_depth", "python_allocators", "track_gc", "rss_interval",
                   "sample_rate", "sample_interval", "include_patterns", "exclude_patterns",
                   "native", "aggregate", "aggregate_interval")

_lock = _thread.allocate_lock()  # serialises starts and stops (main thread, timer, atexit)
_current = None  # the running _Session, guarded by _lock


class _Session:
    def __init__(self, tracker, directory, answer):
        self.tracker = tracker
        self.directory = directory
        self.answer = answer  # target_entry's answer writer
        # Held while the recording runs: the duration thread waits on it,
        # so that a stop from elsewhere ends that thread at once.
        self.running = _thread.allocate_lock()
        self.running.acquire()


def this_build() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}{sys.abiflags}"


def handle(directory: str, request_path: str, answer) -> tuple[str, str]:
    """Carries out the request in request_path; returns the answer (state,
    message). ``answer(directory, state, message, name)`` writes answers
    given later (a recording that ends by itself)."""
    try:
        with open(request_path, encoding="utf-8") as handle_file:
            request = record_environment.read_config(handle_file.read())
        return _carry_out(request, directory, answer)
    except BaseException as error:  # never into the program
        return "error", f"memlyze failed in process {os.getpid()}: {type(error).__name__}: {error}"


def _carry_out(request: dict, directory: str, answer) -> tuple[str, str]:
    if request.get("version") != PROTOCOL_VERSION:
        return "error", (f"process {os.getpid()} has another memlyze loaded, which does not "
                         "understand this one's request")
    if request.get("python") != this_build():
        return "version", (
            f"process {os.getpid()} runs Python {this_build()} ({sys.executable}), and this "
            f"memlyze is installed for Python {request.get('python')} "
            f"({request.get('executable')})")
    action = request.get("action")
    if action == "start":
        return _start(request, directory, answer)
    if action == "stop":
        return _stop_request()
    return "error", f"unknown request {action!r}"


def _start(request: dict, directory: str, answer) -> tuple[str, str]:
    global _current
    from memlyze import _memlyze
    from memlyze.tracker import Tracker

    pid = os.getpid()
    with _lock:
        if _current is not None:
            return "already", (f"memlyze attach is already recording process {pid} into "
                               f"{_current.tracker.path} (memlyze detach {pid} stops it)")
        if _memlyze.is_tracking():
            return "already", (f"a memlyze tracker is already running in process {pid} "
                               "(started by the program itself, or by memlyze run/record)")
        options = {name: request[name] for name in TRACKER_OPTIONS if name in request}
        if request.get("live_port") is not None:
            options["live_port"] = request["live_port"]
        path = request["path"]
        try:
            tracker = Tracker(path, force=bool(request.get("force")), **options)
            tracker.start()
        except (OSError, ValueError, TypeError, RuntimeError, NotImplementedError) as error:
            return "error", f"cannot start tracking into {path}: {error}"
        session = _Session(tracker, directory, answer)
        _current = session
        atexit.register(_stop_at_exit)
        duration = request.get("duration")
        if duration:
            _thread.start_new_thread(_stop_after, (session, float(duration)))
    return "started", path


def _stop_after(session: _Session, duration: float) -> None:
    """The duration thread: stops the recording when its time is over
    (unless it stopped before), and says so in ``finished``."""
    if session.running.acquire(timeout=duration):
        return  # stopped by detach or at exit, which answered
    state, message = _end(session)
    _answer_late(session, state, message)


def _answer_late(session: _Session, state: str, message: str) -> None:
    try:
        session.answer(session.directory, state, message, "finished")
    except OSError:
        pass  # the command is gone (interrupted), and its directory with it


def _stop_request() -> tuple[str, str]:
    session = _current
    if session is None:
        from memlyze import _memlyze

        other = (" (the one that runs was started by the program itself, or by memlyze "
                 "run/record, and stops with it)") if _memlyze.is_tracking() else ""
        return "not-attached", (f"no recording started by memlyze attach runs in process "
                                f"{os.getpid()}{other}")
    state, message = _end(session)
    if state == "stopped":
        _answer_late(session, "stopped", f"detached ({message})")
    return state, message


def _stop_at_exit() -> None:
    session = _current
    if session is not None:
        state, message = _end(session)
        _answer_late(session, "exited" if state == "stopped" else state, message)


def _end(session: _Session) -> tuple[str, str]:
    """Stops the session's recording, once; returns (state, message)."""
    global _current
    with _lock:
        if _current is not session:
            return "stopped", session.tracker.path  # ended already
        _current = None
        atexit.unregister(_stop_at_exit)
        try:
            session.tracker.stop()
            result = ("stopped", session.tracker.path)
        except Exception as error:
            result = ("error", f"could not complete {session.tracker.path}: {error}")
        finally:
            _unwrap_threading()
            session.running.release()
    return result


def _unwrap_threading() -> None:
    threading = sys.modules.get("threading")
    if threading is not None:
        from memlyze import thread_naming

        thread_naming.unwrap_thread_class(threading)
