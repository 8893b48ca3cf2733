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

from __future__ import annotations

from . import record

# dest: default, as add_recording_options and run.build_parser declare them.
DEFAULTS = {
    "output": None,
    "force": False,
    "max_stack_depth": 128,
    "python_allocators": False,
    "track_gc": True,
    "rss_interval": 0.01,
    "sample_rate": 1.0,
    "sample_interval": None,
    "native": False,
    "follow_fork": False,
    "aggregate": False,
    "aggregate_interval": 60.0,
    "pprof_dir": None,
    "pprof_keep": None,
    "include": [],
    "exclude": [],
    "follow_subprocesses": False,
    "ring": None,
    "ring_dump_at": None,
    "ring_max_memory": None,
    "live": None,
    "in_process": False,
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
