"""``memlyze run [OPTIONS] SCRIPT|-m MODULE|-c CODE [ARGS...]``: profile Python code.

The options and capture of ``memlyze record``, with this Python interpreter
(sys.executable) as the command. The program runs in this process
(program_runner.py), without a second interpreter start. With --exec, with
the options that need a new interpreter (see _needs_exec), and for what
Python runs in ways the runner does not repeat, it is exec'd as ``memlyze
record`` does.
"""

import os
import sys

from ._common import CliError, UsageError
from .record import exec_recording, record_here

DESCRIPTION = "profile a Python script, module (-m) or code (-c) with this Python"

USAGE = "memlyze run [OPTIONS] (SCRIPT | -m MODULE | -c CODE) [ARGS...]"


def build_parser():
    from ._common import make_parser
    from .record_options import EPILOG, add_recording_options

    parser = make_parser("run", DESCRIPTION, epilog=EPILOG, usage=USAGE)
    add_recording_options(parser)
    parser.add_argument("--in-process", dest="in_process", action="store_true", default=True,
                        help="run the program in this process: the default (no second "
                             "interpreter start)")
    parser.add_argument("--exec", dest="in_process", action="store_false",
                        help="exec a new Python for the program, as memlyze record does "
                             "(about 10 ms more start-up; the program then starts from a "
                             "fresh interpreter's allocator state, with none of memlyze's "
                             "objects in its pymalloc arenas)")
    return parser


def _module_exists(name: str) -> bool:
    top = name.split(".", 1)[0]
    if not top or not all(part.isidentifier() for part in name.split(".")):
        return False
    if top in sys.builtin_module_names:
        return True
    import importlib.util

    saved = list(sys.path)
    try:
        sys.path.insert(0, os.getcwd())
        return importlib.util.find_spec(top) is not None
    except Exception:
        return True  # let Python itself report it
    finally:
        sys.path[:] = saved


def target_command(target: list[str]) -> tuple[list[str], str]:
    """The Python command line for the target, and the capture's name."""
    if not sys.executable:
        raise CliError("cannot find the Python interpreter (sys.executable is empty)")
    first, rest = target[0], target[1:]
    for flag, what in (("-m", "module"), ("-c", "code")):
        if first.startswith(flag):
            value = first[len(flag):]
            if not value:
                if not rest:
                    raise UsageError(f"run: argument {flag}: expected a {what}")
                value, rest = rest[0], rest[1:]
            if flag == "-m":
                if not _module_exists(value):
                    raise CliError(f"no module named {value!r}")
                return [sys.executable, "-m", value, *rest], value
            return [sys.executable, "-c", value, *rest], "python-c"
    script = first
    if not os.path.exists(script):
        raise CliError(f"{script}: no such file")
    if not os.access(script, os.R_OK):
        raise CliError(f"cannot read {script}: permission denied")
    if os.path.isdir(script) and not os.path.exists(os.path.join(script, "__main__.py")):
        raise CliError(f"{script} is a directory without a __main__.py")
    name = os.path.basename(os.path.normpath(script))
    return [sys.executable, script, *rest], name


def _needs_exec(options) -> bool:
    """Whether the program must start in an interpreter of its own: the
    subprocess hook lives in the environment a new interpreter reads;
    `memlyze dump` finds a ring's output there; native stacks are merged
    with Python stacks evaluation by evaluation, and the command line's
    evaluations below the program's would be left without their frames."""
    return bool(not options.in_process or options.follow_subprocesses
                or options.ring is not None or options.native)


def main(argv: list[str]):
    from .run_options import parse_quickly

    parsed = parse_quickly(argv)
    if parsed is None:
        from .record_options import split_options

        parser = build_parser()
        option_argv, target = split_options(parser, argv, stop_at=("-m", "-c"))
        options = parser.parse_args(option_argv)
    else:
        options, target = parsed
    if not target:
        raise UsageError(f"run: no script given (usage: {USAGE})")
    command, name = target_command(target)
    from .program_runner import program_for

    program = None if _needs_exec(options) else program_for(
        command, lambda: record_here(command, options, name=name))
    if program is None:
        exec_recording(command, options, name=name)
    return program  # main() starts its recording and runs it
