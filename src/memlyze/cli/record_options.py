"""The command-line options of ``memlyze record`` and ``memlyze run``
(argparse), and the split of a command line into memlyze's options and the
program's. Kept out of record.py, which runs before every profiled program:
`memlyze run` reads its usual options without argparse (run_options.py),
and loads these only when argparse reads them.
"""

from ._common import positive_int
from .record import (DESCRIPTION, aggregate_interval, live_port, ring_dump_at, ring_max_memory,
                     ring_window, rss_interval, sample_interval, sample_rate, stack_depth)

EPILOG = """\
The command's stdout, stderr, exit status and signals pass through unchanged.
Tracking stops when the program's main code ends (leaks are what is alive then).
Interpreters started with -I, -E or -S ignore the hook and are not profiled.
Python subprocesses are profiled with --follow-subprocesses, each into
<output>.<pid>; without it (and those that cannot be followed) they are named
on stderr when the program ends.
"""


def add_tracking_options(parser: "argparse.ArgumentParser") -> None:
    """What is recorded and how: the options `record`, `run` and the IPython
    magics share (one definition, so their names, checks and help cannot drift)."""
    parser.add_argument("--max-stack-depth", type=stack_depth, default=128, metavar="N",
                        help="Python frames kept per allocation, innermost first (default: 128)")
    parser.add_argument("--python-allocators", action="store_true",
                        help="also record pymalloc (small object) allocations")
    parser.add_argument("--track-gc", dest="track_gc", action="store_true", default=True,
                        help="record garbage collections (default)")
    parser.add_argument("--no-track-gc", dest="track_gc", action="store_false",
                        help="do not record garbage collections")
    parser.add_argument("--rss-interval", type=rss_interval, default=0.01, metavar="SECONDS",
                        help="RSS sampling period, 0 for none (default: 0.01)")
    sampling = parser.add_mutually_exclusive_group()
    sampling.add_argument("--sample-rate", type=sample_rate, default=1.0, metavar="F",
                          help="record one allocation in N = round(1/F) on average (gaps drawn "
                               "from a fixed-seed generator); figures are scaled estimates")
    sampling.add_argument("--sample-interval", type=sample_interval, default=None,
                          metavar="BYTES",
                          help="Poisson byte sampling with this mean interval, e.g. 512KiB; "
                               "figures are unbiased estimates with 95%% intervals")
    parser.add_argument("--native", action="store_true",
                        help="also record each allocation's native (C) call chain; reports "
                             "merge it with the Python stack")


def add_recording_options(parser: "argparse.ArgumentParser") -> None:
    """The options `record` and `run` share (SPEC 1.1)."""
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="capture file; {pid} expands to the process id "
                             "(default: memlyze-<script>.<pid>.mlyze)")
    parser.add_argument("-f", "--force", action="store_true",
                        help="overwrite an existing capture file")
    add_tracking_options(parser)
    parser.add_argument("--follow-fork", action="store_true",
                        help="forked children record too, each into <output>.<pid> "
                             "(spawned interpreters are followed with --follow-subprocesses)")
    parser.add_argument("--aggregate", action="store_true",
                        help="keep only per-stack totals and rewrite the capture with the "
                             "latest aggregated snapshot every --aggregate-interval: a small "
                             "file for long runs that survives kill -9 (and then reads as "
                             "truncated; no temporary allocations, timeline or per-event "
                             "records); with "
                             "--sample-interval or --sample-rate it holds estimates of the "
                             "whole with 95%% intervals (always-on production use)")
    parser.add_argument("--aggregate-interval", type=aggregate_interval, default=60.0,
                        metavar="SECONDS",
                        help="how often --aggregate rewrites the capture (default: 60; "
                             "the first rewrites come sooner: after 0.1 s, then doubling)")
    parser.add_argument("--pprof-dir", metavar="DIR",
                        help="with --aggregate: also write a gzipped pprof heap profile per "
                             "interval into DIR (memlyze-<pid>-<sequence>.pb.gz: allocations "
                             "of the interval, live at its end) for continuous profilers "
                             "and go tool pprof")
    parser.add_argument("--pprof-keep", type=positive_int, metavar="N",
                        help="with --pprof-dir: keep only each process's newest N profiles")
    parser.add_argument("--include", action="append", default=[], metavar="PATTERN",
                        help="record only allocations with a frame in a module matching "
                             "PATTERN (fnmatch on the module's __name__, e.g. 'myapp.*'); "
                             "repeatable")
    parser.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                        help="do not record allocations with a frame in a module matching "
                             "PATTERN; repeatable")
    parser.add_argument("--follow-subprocesses", action="store_true",
                        help="every Python process started below the profiled one "
                             "(subprocess, os.exec*, multiprocessing, pytest-xdist, gunicorn "
                             "workers, forks) records too, with the same options, into "
                             "<output>.<pid>; reports take them all: memlyze summary "
                             "OUTPUT*")
    parser.add_argument("--ring", type=ring_window, default=None, metavar="SECONDS|EVENTS",
                        help="flight recorder: keep only the last window in memory (30s, 5min: "
                             "a time; 1000000: a number of events) and write it as a capture "
                             "at exit, on SIGUSR2 (memlyze dump PID), on a fatal signal and "
                             "when RSS reaches --ring-dump-at; dumps go to the output, then "
                             "<output>.1, <output>.2, ...")
    parser.add_argument("--ring-dump-at", type=ring_dump_at, default=None, metavar="RSS|PERCENT",
                        help="with --ring: also dump once RSS reaches this (2GiB), or this "
                             "share of the cgroup's memory limit (80%%), before the OOM killer")
    parser.add_argument("--ring-max-memory", type=ring_max_memory, default=None, metavar="BYTES",
                        help="with --ring: the most memory the window may take (default: "
                             "64MiB); a time window is shortened to fit")
    parser.add_argument("--live", nargs="?", const=0, default=None, type=live_port,
                        metavar="PORT",
                        help="also serve a live view on 127.0.0.1:PORT (no PORT: a free "
                             "one, printed on stderr); watch it with: memlyze live PORT. The "
                             "capture is written as without it (docs/live.md)")


def build_parser() -> "argparse.ArgumentParser":
    from ._common import make_parser

    parser = make_parser("record", DESCRIPTION, epilog=EPILOG,
                         usage="memlyze record [OPTIONS] COMMAND [ARGS...]")
    add_recording_options(parser)
    return parser


def split_options(parser: "argparse.ArgumentParser", argv: list[str], stop_at=()) -> tuple[list[str], list[str]]:
    """Splits argv into memlyze's options and the target (command or script).

    The target starts at the first token that is not an option (or an
    option's value), after ``--``, or at a token in ``stop_at`` (``-m``,
    ``-c`` for `run`). Everything from there on belongs to the program.
    """
    takes_value = {}
    optional_value = set()  # options whose value may be left out (--live [PORT])
    for action in parser._actions:
        for option in action.option_strings:
            takes_value[option] = action.nargs != 0
            if action.nargs == "?":
                optional_value.add(option)
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--":
            return argv[:index], argv[index + 1:]
        if any(token == stop or (token.startswith(stop) and not token.startswith("--"))
               for stop in stop_at):
            return argv[:index], argv[index:]
        if token.startswith("--"):
            name = token.split("=", 1)[0]
            matches = [option for option in takes_value if option.startswith(name)]
            exact = name in takes_value
            if exact or len(matches) == 1:
                option = name if exact else matches[0]
                if option in optional_value:
                    # only a number is its value: `--live app.py` runs app.py
                    following = argv[index + 1] if index + 1 < len(argv) else ""
                    if "=" not in token and following.isascii() and following.isdigit():
                        index += 1
                elif takes_value[option] and "=" not in token:
                    index += 1
            index += 1
            continue
        if token.startswith("-") and token != "-":
            for position, letter in enumerate(token[1:], start=1):
                option = "-" + letter
                if option not in takes_value:
                    break
                if takes_value[option]:
                    if position == len(token) - 1:
                        index += 1  # the value is the next token
                    break
            index += 1
            continue
        return argv[:index], argv[index:]
    return argv, []
