"""The pytest hooks of an active plugin: loaded only when a run profiles
(--memlyze) or a collected test declares a limit, so a plain pytest run
never imports the recording engine."""

from __future__ import annotations

import warnings

import pytest

from . import summary
from .capture_files import CaptureFolder
from .limits import LIMIT_ERROR, LIMITS, NO_LIMITS
from .recording import Outcome, Recording
from .settings import Settings

OUTCOME = pytest.StashKey[Outcome]()
REPORT_ATTRIBUTE = "memlyze"  # a call report's figures: a dict, which xdist carries


class MemlyzePlugin:
    def __init__(self, config, settings: Settings, bin_path: str | None):
        self.config = config
        self.settings = settings
        self.folder = CaptureFolder(bin_path)
        self.results: dict[str, dict] = {}  # test id -> figures, from every worker
        self._warned = False

    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_runtest_call(self, item):
        # trylast: the innermost wrapper, so the figures cover the test's
        # call alone, not other plugins' wrappers (capture, logging).
        limits = item.stash.get(LIMITS, NO_LIMITS)
        if LIMIT_ERROR in item.stash or not (self.settings.profiling or limits.any):
            yield
            return
        recording = Recording(item.nodeid, limits, self.settings, self.folder)
        recording.start()
        try:
            yield
        finally:
            recording.stop()
        outcome = recording.finish()
        if recording.error and not limits.any and not self._warned:
            self._warned = True
            warnings.warn(pytest.PytestWarning(recording.error))
        item.stash[OUTCOME] = outcome

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        result = yield
        if call.when != "call":
            return
        outcome = item.stash.get(OUTCOME, None)
        if outcome is None:
            return
        report = result.get_result()
        if outcome.figures is not None:
            setattr(report, REPORT_ATTRIBUTE, outcome.figures)
        if not outcome.problems:
            return
        text = "\n\n".join(outcome.problems)
        if report.passed and not hasattr(report, "wasxfail"):
            report.outcome = "failed"
            report.longrepr = text
        else:  # the test's own failure comes first; ours is added to it
            report.sections.append(("memlyze", text))

    def pytest_runtest_logreport(self, report):
        # Runs in the process that reports: with xdist, the controller,
        # which gathers every worker's figures for one summary.
        figures = getattr(report, REPORT_ATTRIBUTE, None)
        if report.when == "call" and isinstance(figures, dict):
            self.results[report.nodeid] = figures

    def pytest_terminal_summary(self, terminalreporter):
        if not self.settings.profiling or _is_xdist_worker(self.config):
            return
        top = self.config.getoption("memlyze_top")
        shown = len(self.results) if top == 0 else min(top, len(self.results))
        terminalreporter.write_sep(
            "=", f"memlyze: the {shown} hungriest of {len(self.results)} recorded tests")
        for line in summary.render(self.results, top=top,
                                   frames_shown=self.config.getoption("memlyze_stacks"),
                                   sample_interval=self.settings.sample_interval):
            terminalreporter.write_line(line)

    def pytest_unconfigure(self):
        self.folder.close()


def _is_xdist_worker(config) -> bool:
    return hasattr(config, "workerinput")
