"""`memlyze run`'s usual options read without argparse, whose import (with
re, gettext and locale) would be about 10 ms of the program's start.

parse_quickly takes the common spellings of the options only: each option
whole (no abbreviations, no clusters of short options), each at most once
where argparse would object. Anything else (--help, an unknown or
abbreviated option, a bad value, the ring, live and pprof options) returns
None, and run.py parses with argparse, which gives its own answer and
errors. What it accepts it must read exactly as argparse: the test compares
both on many command lines (tests/python/test_run_in_process.py).
"""

from memlyze._bootstrap.record_environment import TRACKER_OPTIONS

from . import record

# The tracker options' argparse dests, where they are named otherwise.
_DESTS = {"include_patterns": "include", "exclude_patterns": "exclude", "live_port": "live"}

# dest: default, as add_recording_options and run.build_parser declare them:
# the tracker's defaults, under argparse's names, but for pprof_keep (None
# until given: record.py tells "not given" from 0) and the options only the
# command line has.
DEFAULTS = {
    **{_DESTS.get(name, name): value for name, value in TRACKER_OPTIONS.items()},
    "pprof_keep": None,
    "output": None,
    "force": False,
    "in_process": True,
}

# option: (dest, value stored)
FLAGS = {
    "-f": ("force", True),
    "--force": ("force", True),
    "--python-allocators": ("python_allocators", True),
    "--track-gc": ("track_gc", True),
    "--no-track-gc": ("track_gc", False),
    "--native": ("native", True),
    "--follow-fork": ("follow_fork", True),
    "--follow-subprocesses": ("follow_subprocesses", True),
    "--aggregate": ("aggregate", True),
    "--in-process": ("in_process", True),
    "--exec": ("in_process", False),
}

# option: (dest, the value's type; None: the text itself)
VALUES = {
    "-o": ("output", None),
    "--output": ("output", None),
    "--max-stack-depth": ("max_stack_depth", record.stack_depth),
    "--rss-interval": ("rss_interval", record.rss_interval),
    "--sample-rate": ("sample_rate", record.sample_rate),
    "--sample-interval": ("sample_interval", record.sample_interval),
    "--aggregate-interval": ("aggregate_interval", record.aggregate_interval),
}

# Repeatable: each value is appended.
LISTS = {"--include": "include", "--exclude": "exclude"}

# A token that starts the target (run.py's split_options stops there too).
TARGET_FLAGS = ("-m", "-c")


class Options:
    """The parsed options, attributes as argparse's Namespace has them."""

    def __init__(self, values: dict):
        self.__dict__.update(values)


def parse_quickly(argv: list[str]) -> tuple[Options, list[str]] | None:
    """(options, target) for argv as argparse would read it, or None when
    argparse must read it."""
    values = {name: list(value) if isinstance(value, list) else value
              for name, value in DEFAULTS.items()}
    given = set()
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--":
            return Options(values), argv[index + 1:]
        if token.startswith(TARGET_FLAGS) or not token.startswith("-") or token == "-":
            if token == "-":
                return None
            return Options(values), argv[index:]
        # (a short option's "=" is part of its value for argparse)
        name, has_inline, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if name in FLAGS and not has_inline:
            dest, value = FLAGS[name]
            values[dest] = value
            index += 1
            continue
        if name in LISTS or name in VALUES:
            if has_inline:
                text = inline
            elif index + 1 < len(argv):
                text = argv[index + 1]
                index += 1
            else:
                return None
            if text.startswith("-"):
                return None  # argparse may take it for an option
            if name in LISTS:
                values[LISTS[name]].append(text)
            elif not _set(values, given, *VALUES[name], text):
                return None
            index += 1
            continue
        return None
    return Options(values), []


def _set(values: dict, given: set, dest: str, convert, text: str) -> bool:
    # The two sampling options exclude each other: argparse says so.
    rival = {"sample_rate": "sample_interval", "sample_interval": "sample_rate"}.get(dest)
    if rival in given:
        return False
    try:
        values[dest] = convert(text) if convert else text
    except Exception:  # argparse gives the error
        return False
    given.add(dest)
    return True
