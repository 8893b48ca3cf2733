"""Recording one test: a tracker around its call, then its figures, limit
checks and the comparison with the previous run's capture."""

from __future__ import annotations

import gc
import os
from typing import NamedTuple

from . import messages
from .limits import Limits
from .measurement import measure
from .settings import Settings

# The tracker's own work (starting, stopping) runs in memlyze's modules:
# excluded, so a test's figures are the test's alone.
_OWN_MODULES = ("memlyze", "memlyze.*")


class Outcome(NamedTuple):
    figures: dict | None  # what measurement.measure returned, with "test" and "capture"
    problems: list  # failure texts: limits exceeded, an increase, an error


class Recording:
    """One test's tracker; start() before its call, finish() after."""

    def __init__(self, nodeid: str, limits: Limits, settings: Settings, folder):
        self.nodeid = nodeid
        self.limits = limits
        self.settings = settings
        self.folder = folder
        self.baseline_path = folder.path(nodeid)
        self.previous = None
        if settings.fail_on_increase and os.path.exists(self.baseline_path):
            self.previous = _previous_figures(self.baseline_path)
        # Limits are checked on exact figures: a test with one is recorded in
        # full even in a sampled run, so a check never depends on a sample.
        self.exact = settings.full or limits.any
        self.path = folder.path(nodeid, ".new.mlyze") if self.previous else self.baseline_path
        self.tracker = None
        self.error = None

    def start(self) -> None:
        from ..tracker import Tracker, TrackerError

        tracker = Tracker(
            self.path, force=True, command=self.nodeid,
            sample_interval=None if self.exact else self.settings.sample_interval,
            native=self.settings.native,
            # Leaks are counted per object: arenas of pymalloc kept for reuse
            # would otherwise read as leaks of whole arenas.
            python_allocators=self.settings.python_allocators or self.limits.leaks is not None,
            rss_interval=0, track_gc=False, exclude_patterns=_OWN_MODULES)
        try:
            self.tracker = tracker.start()
        except (TrackerError, OSError) as error:
            self.error = f"memlyze could not record {self.nodeid}: {error}"

    def stop(self) -> None:
        if self.tracker is None:
            return
        if self.limits.leaks is not None:
            gc.collect()  # garbage of reference cycles is not a leak
        self.tracker.stop()

    def finish(self) -> Outcome:
        if self.error is not None:
            return Outcome(None, [self.error] if self.limits.any else [])
        try:
            figures = measure(self.path, leaks_checked=self.limits.leaks is not None,
                              leak_filter=self.limits.leak_filter)
        except Exception as error:  # filter_fn is the test's own code
            self.folder.discard(self.path)
            return Outcome(None, [f"memlyze: measuring {self.nodeid} failed: "
                                  f"{type(error).__name__}: {error}"])
        figures["test"] = self.nodeid
        problems = messages.limit_problems(figures, self.limits)
        increase = self._increase(figures)
        if increase:
            problems.append(increase)
        elif self.previous is not None:
            os.replace(self.path, self.baseline_path)
        if self.folder.kept:
            # After an increase the previous capture stays the baseline and
            # this run's stays next to it (<test>.new.mlyze) to look at.
            figures["capture"] = self.path if increase else self.baseline_path
        else:
            figures["capture"] = None
            self.folder.discard(self.path)
        return Outcome(figures, problems)

    def _increase(self, figures: dict) -> str | None:
        """A failure text when the peak grew past the previous run's.

        Compared by intervals: an exact capture's interval is its figure, a
        sampled one's its 95% interval; only a rise beyond both counts, so
        sampling noise alone does not fail a test."""
        if self.previous is None:
            return None
        new_low = (figures["peak_ci95"] or [figures["peak"]])[0]
        old_high = (self.previous["peak_ci95"] or [None, self.previous["peak"]])[1]
        if new_low <= old_high:
            return None
        return messages.increase_problem(figures, self.previous, self.baseline_path, self.path)


def _previous_figures(path: str) -> dict | None:
    """The peak of a previous run's capture, or None when it cannot be read
    (then this run's capture replaces it)."""
    from ..file_reader import CaptureError, FileReader

    try:
        with FileReader(path) as reader:
            summary = reader.analyze(top=1)
    except (OSError, CaptureError):
        return None
    return {"peak": summary["peak_bytes"], "peak_ci95": summary.get("peak_bytes_ci95"),
            "sampled": bool(summary.get("sampled"))}
