"""What every report shares: one pass over a capture in C (``ReportCollection``),
the selectors (selection, snapshot, thread, include/exclude), their labels, and
a progress line on a terminal (progress.py).

``open_report(path, ...)`` reads the capture once; the returned ``Report``
builds trees, location tables and pprof files from what was collected, so a
report never walks the capture's records in Python.
"""

from __future__ import annotations

from .. import _memlyze
from .. import formatting as fmt
from .progress import TerminalProgress, progress_for

SELECTIONS = ("peak", "leaks", "temporary", "snapshot", "range", "total")
NO_PYTHON_FRAME = "<no Python frame>"


class ReportError(ValueError):
    """A selector the capture cannot satisfy (a snapshot it lacks, an unknown thread)."""


HEADER_FLAG_AGGREGATE = 1 << 8  # capture_format.h

# What every report on an --aggregate capture says it cannot show.
AGGREGATE_NOTE = ("Aggregated capture (--aggregate): per-stack totals only, as of its latest "
                  "snapshot; it has no timeline, temporary allocations, snapshots or time ranges, "
                  "allocation sizes, allocator mix, GC or RSS, and the peak's time is known to "
                  "the writer's round (10 ms).")


def ring_note(ring: dict | None) -> str | None:
    """What a --ring dump is, for every report on one (None for other captures)."""
    if not ring:
        return None
    import signal as signals

    reason = ring.get("reason")
    if reason == "signal" and ring.get("signal"):
        try:
            why = f"on {signals.Signals(ring['signal']).name}"
        except ValueError:
            why = f"on signal {ring['signal']}"
    elif reason == "rss":
        why = f"when RSS reached {fmt.human_bytes(ring.get('dump_at_rss') or 0)}"
    else:
        why = {"exit": "when tracking stopped", "request": "on request (SIGUSR2)",
               "no-atexit": "at an end without atexit (_exit or exec)"}.get(reason, "")
    start = fmt.human_duration((ring.get("window_start_ns") or 0) / 1e9)
    return (f"Ring dump {ring.get('dump_number') or 1} (--ring), written {why}: the last window "
            f"only, from {start} on; {fmt.human_count(ring.get('evicted_events') or 0)} earlier "
            f"events are left out, and the {fmt.human_count(ring.get('base_allocations') or 0)} "
            f"allocations alive at the window's start appear as made at {start} (they count in "
            f"the totals; the peak is the window's, leaks are what was alive at the dump).")


def is_aggregate(header: dict) -> bool:
    return bool(header.get("flags", 0) & HEADER_FLAG_AGGREGATE)


def sample_description(header: dict) -> tuple[bool, str]:
    """(sampled, text) for a capture's header."""
    interval = header.get("sample_interval") or 0
    rate = header.get("sample_rate")
    if interval:
        return True, f"sampled every {fmt.human_bytes(interval)} (estimates)"
    if rate is not None and rate < 1.0:
        return True, f"sampled: {rate:.3g} of allocations recorded (estimates)"
    if is_aggregate(header):
        return False, "aggregated: per-stack totals of every allocation (no events)"
    return False, "full capture: every allocation"


class Report:
    """A capture read once, and the selectors chosen for its reports."""

    def __init__(self, path, collection, selection: str, snapshot, thread_id, thread_label,
                 include, exclude, temporary_threshold):
        self.path = str(path)
        self.collection = collection
        self.selection = selection
        self.snapshot = snapshot
        self.thread_id = thread_id
        self.thread_label = thread_label
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.temporary_threshold = temporary_threshold
        self.range_ns = None
        self.all_native_frames = False  # trimmed --native paths (report_merged_paths.h)
        self.header = collection.header()
        self.summary = collection.summary()
        self.sampled, self.sample_description = sample_description(self.header)
        self.aggregated = is_aggregate(self.header)
        self.ring_note = ring_note(self.header.get("ring"))

    @property
    def filters(self) -> dict:
        return {"selection": self.selection, "thread": self.thread_id,
                "include": self.include, "exclude": self.exclude}

    def tree(self, **options) -> dict:
        options.setdefault("all_native_frames", self.all_native_frames)
        return self.collection.tree(**self.filters, **options)

    def locations(self) -> list:
        return self.collection.locations(**self.filters)

    def export_pprof(self, path) -> None:
        self.collection.export_pprof(str(path), **self.filters)

    def threads(self) -> list:
        return self.collection.threads()

    def series(self, name: str) -> list:
        return self.collection.series(name)

    def selection_label(self) -> str:
        summary = self.summary
        if self.selection == "peak":
            label = (f"memory held at the peak ({fmt.human_bytes(summary['peak_bytes'])} "
                     f"at {fmt.human_duration(summary['peak_time_ns'] / 1e9)})")
        elif self.selection == "leaks":
            label = "memory still allocated when tracking stopped (leaks)"
        elif self.selection == "temporary":
            threshold = self.temporary_threshold
            label = (f"temporary allocations: freed with at most {threshold} other "
                     f"allocation{'s' if threshold != 1 else ''} in between")
        elif self.selection == "snapshot":
            label = f"memory held at snapshot {self.snapshot} of {summary['snapshot_count']}"
        elif self.selection == "range":
            label = "memory allocated in the time range and held at its end"
            if self.range_ns:
                start, end = self.range_ns
                label = (f"memory allocated between {fmt.human_duration(start / 1e9)} and "
                         f"{fmt.human_duration(end / 1e9)} and held at its end")
        else:
            label = "every allocation made (total allocated)"
        parts = [label]
        if self.thread_label:
            parts.append(f"thread {self.thread_label}")
        if self.include:
            parts.append("including " + ", ".join(self.include))
        if self.exclude:
            parts.append("excluding " + ", ".join(self.exclude))
        return "; ".join(parts)


def _resolve_thread(collection, thread):
    """(thread_id, label) for a thread id or name; ReportError when unknown."""
    if thread is None or thread == "":
        return None, None
    threads = collection.threads()
    text = str(thread)
    for thread_id, native_tid, name in threads:
        if name and name == text:
            return thread_id, f"{name} ({thread_id})"
    number = None
    if isinstance(thread, int):
        number = thread
    else:
        try:
            number = int(text, 0)
        except ValueError:
            number = None
    if number is not None:
        for thread_id, native_tid, name in threads:
            if number in (thread_id, native_tid):
                return thread_id, f"{name} ({thread_id})" if name else str(thread_id)
    known = ", ".join(f"{thread_id} ({name})" if name else str(thread_id)
                      for thread_id, _, name in threads[:10])
    raise ReportError(f"no thread {text!r} in the capture (threads: {known or 'none'})")


def _refuse_aggregate_capture(header: dict, selection: str, temporal: bool) -> None:
    """Raises ReportError for what a capture recorded with --aggregate cannot
    answer: it holds per-stack figures at the peak, at its latest snapshot
    (leaks) and in total, but no events. (The header comes from the
    report's own pass: no second read of the file.)"""
    if not is_aggregate(header):
        return
    if temporal:
        what = "--temporal (when each allocation was made and freed) is not available"
    elif selection == "temporary":
        what = "temporary allocations are not available"
    elif selection in ("snapshot", "range"):
        what = "snapshots and time ranges are not available"
    else:
        return
    raise ReportError(f"this capture was recorded with --aggregate; {what} "
                      "(it keeps per-stack figures at the peak, at its latest snapshot and in "
                      "total)")


def open_report(path, *, selection="peak", snapshot=None, thread=None, include=(), exclude=(),
                temporary_threshold=1, temporal=False, range_ns=None, progress="auto") -> Report:
    """Reads the capture at path once (in C) with the selectors given.

    selection: peak | leaks | temporary | snapshot | range | total; snapshot
    is 1-based; range_ns = (start_ns, end_ns) for the range selection.
    Raises OSError / CaptureError for an unreadable capture and ReportError
    for selectors the capture cannot satisfy.
    """
    if selection not in SELECTIONS:
        raise ReportError(f"unknown selection {selection!r} (choose from {', '.join(SELECTIONS)})")
    if snapshot is not None and selection == "peak":
        selection = "snapshot"
    if selection == "snapshot" and (snapshot is None or int(snapshot) < 1):
        raise ReportError(f"--snapshot {snapshot} does not exist: snapshots are numbered from 1")
    if temporary_threshold < 0:
        raise ReportError("the temporary threshold must be at least 0")
    start_ns, end_ns = range_ns if range_ns else (0, 2**64 - 1)
    reporter = progress_for(progress)
    try:
        collection = _memlyze.ReportCollection(
            str(path), snapshot=int(snapshot or 0), temporary_threshold=int(temporary_threshold),
            range_start_ns=int(start_ns), range_end_ns=int(end_ns), temporal=bool(temporal),
            progress=reporter)
    finally:
        if isinstance(reporter, TerminalProgress):
            reporter.finish()
    _refuse_aggregate_capture(collection.header(), selection, temporal)
    count = collection.summary()["snapshot_count"]
    if selection == "snapshot" and int(snapshot) > count:
        raise ReportError(f"capture has {count} snapshot{'s' if count != 1 else ''}; "
                          f"--snapshot {snapshot} does not exist")
    thread_id, thread_label = _resolve_thread(collection, thread)
    report = Report(path, collection, selection, snapshot, thread_id, thread_label, include,
                    exclude, temporary_threshold)
    report.range_ns = range_ns
    return report


def node_names(tree: dict, report: Report) -> list[tuple[str, str, int]]:
    """(function, file, line) of every node of a tree() dict, with the names
    of the root, thread, no-frame and other nodes filled in."""
    nodes = tree["nodes"]
    thread_names = {thread_id: name for thread_id, _, name in report.threads()}
    names = []
    for kind, function, file, line, thread in zip(nodes["kind"], nodes["function"], nodes["file"],
                                                  nodes["line"], nodes["thread"]):
        if kind == "frame":
            names.append((function, file, line))
        elif kind == "root":
            names.append(("<all>", "", 0))
        elif kind == "other":
            names.append(("other", "", 0))
        elif kind == "no_frame":
            names.append((NO_PYTHON_FRAME, "", 0))
        else:
            name = thread_names.get(thread)
            names.append((f"thread {thread}" + (f" ({name})" if name else ""), "", 0))
    return names
