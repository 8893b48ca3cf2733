"""Recording from inside a Python process: ``Tracker`` and ``start``.

One recording at a time per process: the engine hooks the process-wide
allocators, so a second ``Tracker`` while one runs is an error.
"""

import _thread
import os

from . import _memlyze, thread_naming
from .engine_limits import MAX_RSS_INTERVAL, MAX_STACK_DEPTH_LIMIT

__all__ = ["Tracker", "TrackerError", "start"]

# Options of SPEC 1.2 that the engine does not offer yet, with the value that
# means "off". Accepted (so code written against the full API keeps its
# shape); anything but the default is refused with a clear message.
_NOT_YET_SUPPORTED: dict = {}

_lock = _thread.allocate_lock()
_running: "Tracker | None" = None


def _check_sampling(sample_rate, sample_interval, seed):
    """Returns (rate, interval bytes or 0, seed or None) or raises ValueError/TypeError."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)):
        raise TypeError(f"sample_rate must be a number, not {type(sample_rate).__name__}")
    # The bounds readers accept (docs/format.md, CAPTURE_MIN_SAMPLE_RATE and
    # CAPTURE_MAX_SAMPLE_INTERVAL): a recording outside them could not be read.
    if not 1e-9 <= sample_rate <= 1:
        raise ValueError(f"sample_rate must be in [1e-9, 1] (got {sample_rate})")
    interval = 0
    if sample_interval is not None:
        from .byte_sizes import parse_byte_size  # here: a module less for unsampled starts

        interval = parse_byte_size(sample_interval)
        if interval > 2**40:
            raise ValueError(f"sample_interval must be at most 2**40 bytes (got {interval})")
        if sample_rate < 1:
            raise ValueError("sample_rate and sample_interval cannot be used together")
    if seed is None:
        environment_seed = os.environ.get("MEMLYZE_SEED")
        if environment_seed:
            try:
                seed = int(environment_seed, 0)
            except ValueError:
                raise ValueError(f"MEMLYZE_SEED must be an integer (got {environment_seed!r})")
    elif isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, not {type(seed).__name__}")
    return float(sample_rate), interval, seed


def _check_aggregate_interval(interval) -> float:
    """Returns the --aggregate snapshot interval in seconds, or raises."""
    if isinstance(interval, bool) or not isinstance(interval, (int, float)):
        raise TypeError(f"aggregate_interval must be a number, not {type(interval).__name__}")
    if not 0.01 <= interval <= 86400:
        raise ValueError(f"aggregate_interval must be between 0.01 and 86400 seconds "
                         f"(got {interval})")
    return float(interval)


def _check_pprof(pprof_dir, pprof_keep, aggregate):
    """Returns (absolute pprof_dir or None, keep count, 0 for all) or raises."""
    if isinstance(pprof_keep, bool) or not isinstance(pprof_keep, int) or pprof_keep < 0:
        raise ValueError(f"pprof_keep must be a non-negative int (got {pprof_keep!r})")
    if pprof_dir is None:
        if pprof_keep:
            raise ValueError("pprof_keep needs pprof_dir")
        return None, 0
    if not aggregate:
        raise ValueError("pprof_dir needs aggregate=True (the profiles are its intervals)")
    # Absolute: the program may change its directory while it runs.
    return os.path.abspath(os.fspath(pprof_dir)), pprof_keep


def _check_ring(ring, dump_at, max_memory, aggregate, follow_fork) -> dict:
    """The engine's ring arguments for Tracker(ring=..., ring_dump_at=...,
    ring_max_memory=...): {} without ring; raises ValueError."""
    if ring is None:
        if dump_at is not None or max_memory is not None:
            raise ValueError("ring_dump_at and ring_max_memory need ring (--ring)")
        return {}
    from .ring_options import parse_dump_at, parse_max_memory, parse_ring

    if aggregate:
        raise ValueError("ring (--ring) cannot be combined with aggregate (--aggregate)")
    if follow_fork:
        raise ValueError("ring (--ring) cannot be combined with following forks or "
                         "subprocesses yet")
    events, seconds = parse_ring(ring)
    max_bytes = parse_max_memory(max_memory)
    # The engine keeps events in blocks of 4096 (32 bytes each), plus one
    # block being filled: what a count needs (event_ring.h).
    needed = ((events + 4095) // 4096 + 1) * (4096 * 32 + 32)
    if events and needed > max_bytes:
        from .formatting import human_bytes

        raise ValueError(f"--ring {events} events need {human_bytes(needed)}, more than "
                         f"--ring-max-memory {human_bytes(max_bytes)}")
    return {"ring_events": events, "ring_window": seconds, "ring_max_bytes": max_bytes,
            "ring_dump_at": parse_dump_at(dump_at)}
def _check_live_port(port):
    """None (no live view) or a port number, 0 meaning any free one."""
    if port is None:
        return None
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"live_port must be an int, not {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise ValueError(f"live_port must be between 0 and 65535 (got {port})")
    return port


def _announce_live_port(port) -> None:
    """Says where the live view is: the one line `memlyze run --live` promises."""
    import sys

    try:
        sys.stderr.write(f"memlyze: live view on 127.0.0.1:{port}; run: memlyze live {port}\n")
        sys.stderr.flush()
    except Exception:  # a program without a usable stderr still records
        pass


def _check_patterns(name, patterns):
    """A tuple of fnmatch patterns on module names, from None, a str or strs."""
    if patterns is None:
        return ()
    if isinstance(patterns, str):
        patterns = (patterns,)
    patterns = tuple(patterns)
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            raise TypeError(f"{name} must be non-empty strings, got {pattern!r}")
    return patterns


_SAFE_IN_COMMAND = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "0123456789@%+=:,./-_")


def _command_line(arguments) -> str:
    """The arguments as a shell would need them quoted (what shlex.join
    gives, without importing shlex and re into every recorded process)."""
    def quote(argument):
        if argument and all(character in _SAFE_IN_COMMAND for character in argument):
            return argument
        return "'" + argument.replace("'", "'\"'\"'") + "'"
    return " ".join(quote(argument) for argument in arguments)


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

    ``aggregate=True`` keeps only per-stack totals in memory and rewrites the
    capture every ``aggregate_interval`` seconds (sooner at first: 0.1 s after
    the start, then after waits doubling up to the interval; and at stop) with
    the latest aggregated snapshot: a bounded file for long-running processes,
    whose last snapshot survives the process being killed (and then reads as
    truncated: only the snapshot at stop closes the capture). Reports then
    answer what was held at the peak and at the snapshot, not temporary
    allocations. With
    ``sample_interval`` or ``sample_rate`` too, the snapshot holds estimates
    of the whole program and their 95% intervals (always-on production use).
    With ``pprof_dir`` too, every interval (and the stop) also writes a pprof
    heap profile ``memlyze-<pid>-<sequence>.pb.gz`` into that directory
    (allocations of the interval, live at its end; docs/pprof.md); with
    ``pprof_keep=N`` only the newest N stay.

    ``ring="30s"`` (a time window) or ``ring=1000000`` (events) is the flight
    recorder: only the last window is kept (in at most ``ring_max_memory``,
    default 64MiB) and dumped as a complete capture into ``path``, then
    ``path.1``, ``path.2``... at stop, on SIGUSR2 or :meth:`dump`, at a fatal
    signal, and once RSS reaches ``ring_dump_at`` (bytes, ``"2GiB"``, or
    ``"80%"`` of the cgroup's memory limit). See docs/ring.md.

    ``live_port`` serves the live view (``memlyze live PORT``) on 127.0.0.1
    only, from a thread of the engine's: 0 picks a free port; either way the
    port is printed on stderr and kept in ``live_port`` after start. The
    capture is written as without it.
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
        sample_rate: float = 1.0,
        sample_interval=None,
        seed: int | None = None,
        native: bool = False,
        follow_fork: bool = False,
        aggregate: bool = False,
        aggregate_interval: float = 60.0,
        pprof_dir=None,
        pprof_keep: int = 0,
        include_patterns=None,
        exclude_patterns=None,
        follow_subprocesses: bool = False,
        ring=None,
        ring_dump_at=None,
        ring_max_memory=None,
        live_port: int | None = None,
        **later_options,
    ):
        for name, value in later_options.items():
            if name not in _NOT_YET_SUPPORTED:
                raise TypeError(f"Tracker() got an unexpected keyword argument {name!r}")
            if value != _NOT_YET_SUPPORTED[name]:
                raise NotImplementedError(f"the {name!r} option is not supported yet")
        _check_options(max_stack_depth, rss_interval)
        self.sample_rate, self.sample_interval, self.seed = _check_sampling(
            sample_rate, sample_interval, seed)
        self.include_patterns = _check_patterns("include_patterns", include_patterns)
        self.exclude_patterns = _check_patterns("exclude_patterns", exclude_patterns)
        self.path = os.fspath(path)
        self.max_stack_depth = max_stack_depth
        self.python_allocators = bool(python_allocators)
        self.track_gc = bool(track_gc)
        self.rss_interval = float(rss_interval)
        self.force = bool(force)
        self.command = command
        self.native = bool(native)
        self.aggregate = bool(aggregate)
        self.aggregate_interval = _check_aggregate_interval(aggregate_interval)
        self.pprof_dir, self.pprof_keep = _check_pprof(pprof_dir, pprof_keep, self.aggregate)
        self.follow_subprocesses = bool(follow_subprocesses)
        self.requested_live_port = _check_live_port(live_port)
        self.live_port = None  # the port served, once started
        # Following subprocesses includes forked children.
        self.follow_fork = bool(follow_fork) or self.follow_subprocesses
        self.ring, self.ring_dump_at, self.ring_max_memory = ring, ring_dump_at, ring_max_memory
        self._ring = _check_ring(ring, ring_dump_at, ring_max_memory, self.aggregate,
                                 self.follow_fork)
        if self._ring and self.requested_live_port is not None:
            # The ring's live table lags the program by the window: a live
            # view of it would show the past as the present.
            raise ValueError("ring (--ring) cannot be combined with live_port (--live) yet")
        # The recorded process that started this one (set by the start-up
        # hook of a followed subprocess), and what this tracker does about
        # its own subprocesses (subprocess_following.Following or None).
        self.parent_pid = None
        self._following = None
        self._started = False
        self._stopped = False
        self._pid = None
        self._threading_watch = None  # see thread_naming.name_threads

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
                import sys

                command = _command_line(getattr(sys, "orig_argv", None) or [])
            _memlyze.start_tracking(
                self.path,
                overwrite=self.force,
                max_stack_depth=self.max_stack_depth,
                python_allocators=self.python_allocators,
                track_gc=self.track_gc,
                rss_interval=self.rss_interval,
                command=command,
                sample_rate=self.sample_rate,
                sample_interval=self.sample_interval,
                seed=self.seed,
                native=self.native,
                follow_fork=self.follow_fork,
                aggregate_interval=self.aggregate_interval if self.aggregate else 0.0,
                include_patterns=self.include_patterns,
                exclude_patterns=self.exclude_patterns,
                parent_pid=self.parent_pid or 0,
                fork_path=self._fork_path(),
                pprof_dir=self.pprof_dir,
                pprof_keep=self.pprof_keep,
                **self._ring,
                live_port=-1 if self.requested_live_port is None else self.requested_live_port,
            )
            self._started = True
            if self.requested_live_port is not None:
                self.live_port = _memlyze.live_port()
                _announce_live_port(self.live_port)
            self._pid = os.getpid()
            _running = self
            if self.follow_fork:
                os.register_at_fork(after_in_child=self._continue_in_child)
            if self.follow_subprocesses and self._following is None:
                self._following = self._default_following()
            if self._following is not None:
                self._following.begin()
            set_thread_name = getattr(_memlyze, "set_thread_name", None)
            if set_thread_name is not None:
                self._threading_watch = thread_naming.name_threads(set_thread_name,
                                                                   _memlyze.is_tracking)
        return self

    def dump(self) -> None:
        """With ``ring``: asks the writer to dump the window now (what
        SIGUSR2 does); the dump is written in the background, into the next
        free name of ``path``, ``path.1``, ``path.2``..."""
        if not self.is_running:
            raise TrackerError("the tracker is not running")
        if not self._ring or not _memlyze.request_ring_dump():
            raise TrackerError("dump() needs a tracker started with ring=...")

    def _fork_path(self) -> str | None:
        """Where forked children record with follow_subprocesses: next to
        the top capture (the family's), not below this process's."""
        if self._following is not None and self._following.follow:
            return self._following.family_path
        return os.path.abspath(self.path) if self.follow_subprocesses else None

    def _default_following(self):
        """An in-process Tracker(follow_subprocesses=True): subprocesses
        record into ``<path>.<pid>``; those that cannot are named at stop."""
        from ._bootstrap import subprocess_notes
        from ._bootstrap.subprocess_following import Following

        return Following(follow=True, family_path=self.path, options=self.recording_options(),
                         notes_path=subprocess_notes.create(), owns_notes=True)

    def recording_options(self) -> dict:
        """The options a followed subprocess records with (this tracker's)."""
        return {
            "max_stack_depth": self.max_stack_depth,
            "python_allocators": self.python_allocators,
            "track_gc": self.track_gc,
            "rss_interval": self.rss_interval,
            "sample_rate": self.sample_rate,
            "sample_interval": self.sample_interval or None,
            "include_patterns": list(self.include_patterns),
            "exclude_patterns": list(self.exclude_patterns),
            "native": self.native,
            "follow_fork": True,
            "aggregate": self.aggregate,
            "aggregate_interval": self.aggregate_interval,
            "pprof_dir": self.pprof_dir,
            "pprof_keep": self.pprof_keep,
            "follow_subprocesses": True,
            "ring": self.ring,
            "ring_dump_at": self.ring_dump_at,
            "ring_max_memory": self.ring_max_memory,
        }

    def _continue_in_child(self) -> None:
        """In a forked child with follow_fork: the engine already records into
        ``<path>.<pid>``; this tracker now stops that capture (at exit)."""
        if self._started and not self._stopped and _memlyze.is_tracking():
            self._pid = os.getpid()
            self.child_path = f"{self._fork_path() or self.path}.{self._pid}"
            try:
                _memlyze.set_thread_name(thread_naming.current_thread_name())
            except Exception:
                pass

    def stop(self) -> None:
        """Stops recording and completes the capture file.

        Calling it again, or in a forked child (where recording already
        stopped without touching the parent's file), does nothing; with
        ``follow_fork`` a forked child's stop completes its own capture,
        ``<path>.<pid>`` (``memlyze record`` stops it at exit).
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
            if self._threading_watch is not None:
                self._threading_watch.leave()
            _memlyze.stop_tracking()
            if self._following is not None:
                self._following.end()

    def snapshot(self) -> None:
        """Marks this moment in the capture; reports can select it later."""
        if not self.is_running:
            raise TrackerError("the tracker is not running")
        _memlyze.snapshot()

    def set_sample_rate(self, sample_rate: float) -> None:
        """Changes the fraction of allocations kept, from now on.

        Only for a tracker started with ``sample_rate`` below 1; the capture
        records the moment, and estimates use the rate each allocation had.
        """
        if not self.is_running:
            raise TrackerError("the tracker is not running")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)):
            raise TypeError(f"sample_rate must be a number, not {type(sample_rate).__name__}")
        _memlyze.set_sample_rate(float(sample_rate))

    def __enter__(self) -> "Tracker":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start(path, **options) -> Tracker:
    """Starts a :class:`Tracker` (same options) and returns it; call ``.stop()``."""
    return Tracker(path, **options).start()
