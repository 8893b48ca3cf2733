"""memlyze's pytest plugin (entry point ``pytest11``), see docs/pytest.md.

This module is what pytest loads at start-up: options, markers and the
collection hook only. The hooks that record (plugin.py) are registered when
the run profiles (--memlyze) or a collected test declares a limit; the
recording engine is imported when the first test is recorded.
"""

from __future__ import annotations

import argparse
import warnings

import pytest

from ..byte_sizes import parse_byte_size
from .limits import LIMIT_ERROR, LIMITS, MARKER_LINES, LimitError, limits_for, parse_ini_limit
from .settings import Settings
from .stack import Stack, StackFrame

__all__ = ["Stack", "StackFrame"]

DEFAULT_SAMPLE_INTERVAL = "64KiB"
_PLUGIN_NAME = "memlyze-recording"
_LIMIT_ERROR_PREFIX = "memlyze: "


def _byte_size_option(text: str) -> int:
    try:
        return parse_byte_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _count_option(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, not {text!r}")
    return int(text)


def pytest_addoption(parser):
    group = parser.getgroup("memlyze", "memory profiling with memlyze")
    group.addoption("--memlyze", action="store_true",
                    help="profile each test (sampled; see --memlyze-full) and print a summary "
                         "of the hungriest tests")
    group.addoption("--memlyze-full", action="store_true",
                    help="record every allocation, not a sample (implies --memlyze)")
    group.addoption("--memlyze-sample-interval", type=_byte_size_option, metavar="BYTES",
                    default=parse_byte_size(DEFAULT_SAMPLE_INTERVAL),
                    help=f"mean bytes between samples when sampled "
                         f"(default: {DEFAULT_SAMPLE_INTERVAL})")
    group.addoption("--memlyze-top", type=_count_option, default=5, metavar="N",
                    help="tests shown in the summary, 0 for all (default: 5)")
    group.addoption("--memlyze-stacks", type=_count_option, default=1, metavar="N",
                    help="frames shown per stack in the summary (default: 1, the location)")
    group.addoption("--memlyze-bin-path", metavar="DIR",
                    help="keep each test's capture in DIR (implies --memlyze)")
    group.addoption("--memlyze-fail-on-increase", action="store_true",
                    help="fail a test whose peak grew past its capture in --memlyze-bin-path "
                         "from a previous run (implies --memlyze)")
    group.addoption("--memlyze-native", action="store_true",
                    help="also record native (C) frames of each allocation")
    group.addoption("--memlyze-python-allocators", action="store_true",
                    help="also record pymalloc allocations (each object, not arenas)")
    parser.addini("memlyze_limit_memory",
                  "with --memlyze: the limit_memory of every test without its own "
                  "(e.g. 100 MB)", default="")


def _settings(config) -> Settings:
    option = config.getoption
    profiling = any(option(name) for name in (
        "memlyze", "memlyze_full", "memlyze_bin_path", "memlyze_fail_on_increase"))
    return Settings(profiling=profiling, full=option("memlyze_full"),
                    sample_interval=option("memlyze_sample_interval"),
                    native=option("memlyze_native"),
                    python_allocators=option("memlyze_python_allocators"),
                    fail_on_increase=option("memlyze_fail_on_increase"))


def _register(config, settings=None) -> None:
    if config.pluginmanager.has_plugin(_PLUGIN_NAME):
        return
    from .plugin import MemlyzePlugin

    config.pluginmanager.register(
        MemlyzePlugin(config, settings or _settings(config), config.getoption("memlyze_bin_path")),
        _PLUGIN_NAME)


def pytest_configure(config):
    for line in MARKER_LINES:
        config.addinivalue_line("markers", line)
    if config.getoption("memlyze_fail_on_increase") and not config.getoption("memlyze_bin_path"):
        raise pytest.UsageError("--memlyze-fail-on-increase needs --memlyze-bin-path DIR "
                                "(where the previous run's captures are)")
    try:
        config.stash[_DEFAULT_LIMIT] = parse_ini_limit(config.getini("memlyze_limit_memory"))
    except ValueError as error:
        raise pytest.UsageError(f"memlyze_limit_memory in the ini file: {error}") from None
    settings = _settings(config)
    config.stash[_PROFILING] = settings.profiling
    if settings.profiling:
        _register(config, settings)


_DEFAULT_LIMIT = pytest.StashKey[object]()
_PROFILING = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config, items):
    # The ini default is for profiling runs (--memlyze); markers hold always.
    default = config.stash[_DEFAULT_LIMIT] if config.stash[_PROFILING] else None
    limited = False
    for item in items:
        try:
            limits = limits_for(item, default)
        except LimitError as error:
            item.stash[LIMIT_ERROR] = _LIMIT_ERROR_PREFIX + str(error)
            continue
        if limits.any:
            item.stash[LIMITS] = limits
            limited = True
    if limited:
        _register(config)
        if config.pluginmanager.has_plugin("memray"):
            # pytest-memray enforces markers of the same names (with its own
            # tracker around the test, which memlyze would then record too).
            warnings.warn(pytest.PytestWarning(
                "pytest-memray is installed too and also enforces limit_memory/limit_leaks; "
                "run with -p no:memray to leave them to memlyze"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    message = item.stash.get(LIMIT_ERROR, None)
    if message is not None:
        pytest.fail(message, pytrace=False)
