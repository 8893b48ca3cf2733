"""``memlyze``: the command dispatcher.

Each command is a module of this package with ``DESCRIPTION``,
``build_parser()`` and ``main(argv) -> int``; add new ones to COMMANDS.
Bad input is reported as one line, ``memlyze: error: ...``, with a non-zero
exit status and no traceback.
"""

import os
import sys

from ._common import CliError, UsageError, print_error

# name -> module under memlyze.cli. Room for later commands (SPEC 1.3), each
# one module here: flamegraph, tree, table, diff, export, live.
COMMANDS = {
    "record": "record",
    "run": "run",
    "summary": "summary",
    "stats": "stats",
    "tree": "tree",
    "table": "table",
    "diff": "diff",
    "export": "export",
    "flamegraph": "flamegraph",
    "plot": "plot",
    "query": "query",
    "attach": "attach",
    "detach": "detach",
    "dump": "dump",
    "live": "live",
}

_DESCRIPTIONS = {
    "record": "profile a command's Python process: memlyze record python app.py",
    "run": "profile a Python script, module (-m) or code (-c) with this Python",
    "summary": "table of the locations holding the most memory at the peak",
    "stats": "totals, peak, leaks, allocators, sizes, top locations, GC (--json)",
    "tree": "call tree of the memory held at the peak (interactive on a terminal)",
    "table": "allocations grouped by location (--html for a sortable page)",
    "diff": "growth and shrinkage by location between captures or snapshots",
    "export": "pprof, speedscope, collapsed stacks, CSV, JSON or Parquet tables",
    "flamegraph": "self-contained HTML flame graph and memory-over-time chart",
    "plot": "memory over time from a python -m memlyze.process log (PNG/SVG)",
    "query": "SQL over captures' tables with DuckDB (peak_by_location, ...)",
    "attach": "start recording inside a running Python process (gdb)",
    "detach": "stop the recording memlyze attach started",
    "dump": "ask a running --ring process to write its window (sends SIGUSR2)",
    "live": "live view (Textual) of a process run with --live PORT",
}


def _help() -> str:
    from memlyze import __version__

    lines = [
        f"usage: memlyze COMMAND [OPTIONS] ...   (memlyze {__version__})",
        "",
        "A memory profiler for CPython.",
        "",
        "commands:",
    ]
    for name in COMMANDS:
        lines.append(f"  {name:<10} {_DESCRIPTIONS[name]}")
    lines += [
        "",
        "Run 'memlyze COMMAND --help' for a command's options.",
        "Examples:",
        "  memlyze run -o app.mlyze app.py",
        "  memlyze record -o app.mlyze python app.py",
        "  memlyze summary app.mlyze",
        "  memlyze stats --json app.mlyze",
    ]
    return "\n".join(lines)


def _dispatch(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write(_help() + "\n")
        return 2
    first = argv[0]
    if first in ("-h", "--help", "help"):
        print(_help())
        return 0
    if first in ("-V", "--version"):
        from memlyze import __version__

        print(f"memlyze {__version__}")
        return 0
    if first not in COMMANDS:
        if first.startswith("-"):
            raise UsageError(f"unknown option {first!r} (a command comes first: "
                             f"{', '.join(COMMANDS)}; see 'memlyze --help')")
        raise UsageError(f"unknown command {first!r} (choose from {', '.join(COMMANDS)})")
    module = __import__(f"memlyze.cli.{COMMANDS[first]}", fromlist=["main"])
    return module.main(argv[1:])


def _extension():
    """memlyze._memlyze, or None when it cannot load (starting the recording
    then says so in one line)."""
    try:
        from memlyze import _memlyze
    except ImportError:
        return None
    return _memlyze


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        status = _dispatch(argv)
        if isinstance(status, int):
            sys.stdout.flush()
            return status
        program = status  # memlyze run --in-process: program_runner.Program
        extension = _extension()
        if extension is not None:
            # Called here, it marks this frame: the program runs under it,
            # and the frames main() was called from (the command's script,
            # or runpy) stay out of the program's stacks.
            extension.set_stack_base()
        program.start_recording()
    except CliError as error:
        print_error(str(error))
        return error.status
    except SystemExit as exit_request:  # argparse's --help
        code = exit_request.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
    except BrokenPipeError:
        # The reader went away (memlyze stats FILE | head): not an error.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    # Outside the handlers above: the program's exit and exceptions are its own.
    return program.run()


if __name__ == "__main__":
    sys.exit(main())
