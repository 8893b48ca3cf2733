"""Runs the profiled program inside the ``memlyze run`` process, as
``python SCRIPT``, ``python -m MODULE`` or ``python -c CODE`` would: a second
interpreter start (and its imports) is what the program would otherwise pay
before its first line.

The program sees what Python would have given it: a fresh ``__main__``
(``__file__`` absolute, the loader Python sets), its own ``sys.argv``,
``sys.orig_argv`` and ``sys.path[0]`` (the script's resolved directory, the
working directory for -m, '' for -c), and code compiled as Python compiles
it (``_memlyze.compile_program``: no __future__ flags of memlyze's, and not
the ast module's types builtins.compile() builds). Its end is Python's own:
SystemExit and uncaught exceptions are left to the interpreter's top level
(exit status, the message of ``sys.exit("...")``, KeyboardInterrupt's death
by SIGINT), with ``sys.excepthook`` shown the traceback from the program's
first frame on.
The recorded stacks start there too: memlyze.cli.main marks its frame as
the stack base (``_memlyze.set_stack_base``) before it calls
``start_recording``, so that the command line's callers are left out
(memlyze's own frames above it are left out anyway), and run() clears the
mark when the program ends.

What Python runs in ways this module does not repeat (a directory or zip
file with ``__main__.py``, a compiled .pyc file) returns None from
``program_for`` and is exec'd as before.
"""

import os
import sys

# Python runs a file as a zip archive or compiled code when it starts so.
_ZIP_MAGIC = b"PK\x03\x04"


class Program:
    """A target of ``memlyze run`` to run in this process: ``kind`` is
    "script", "module" or "code"; ``command`` the Python command line it
    stands for ([executable, target, *arguments])."""

    def __init__(self, kind: str, command: list[str], start_recording,
                 source: bytes | None = None):
        self.kind = kind
        self.command = command
        self.start_recording = start_recording  # called by main() under the stack base
        self.source = source

    def run(self) -> int:
        """Runs the program; returns 0 when its main code ends normally, else
        its exception goes on to the interpreter's top level."""
        from memlyze import _memlyze

        try:
            self._enter()
            self._execute()
        except SystemExit:
            raise
        except BaseException:
            _show_traceback_from(sys._getframe())
            raise
        finally:
            _memlyze.clear_stack_base()
        return 0

    def _enter(self) -> None:
        kind, command = self.kind, self.command
        main = type(sys)("__main__")
        main.__dict__.update(__builtins__=sys.modules["builtins"], __annotations__={},
                             __loader__=sys.modules["_frozen_importlib"].BuiltinImporter)
        if kind == "script":
            path = os.path.abspath(command[1])
            external = sys.modules["_frozen_importlib_external"]
            main.__dict__.update(__file__=path, __cached__=None,
                                 __loader__=external.SourceFileLoader("__main__", path))
            path_entry = os.path.dirname(os.path.realpath(command[1]))
            sys.argv = command[1:]
        elif kind == "module":
            path_entry = os.getcwd()
            sys.argv = ["-m", *command[3:]]
        else:
            path_entry = ""
            sys.argv = ["-c", *command[3:]]
        sys.orig_argv = list(command)
        # Python put the command line's own directory first; the program's
        # goes there instead (none with -P / PYTHONSAFEPATH).
        if not getattr(sys.flags, "safe_path", False) and sys.path:
            sys.path[0] = path_entry
        sys.modules["__main__"] = main

    def _execute(self) -> None:
        main = sys.modules["__main__"]
        if self.kind == "module":
            import runpy

            runpy._run_module_as_main(self.command[2], alter_argv=True)
            return
        from memlyze._memlyze import compile_program

        if self.kind == "script":
            code = compile_program(self.source, main.__file__)
        else:
            code = compile_program(self.command[2], "<string>")
        exec(code, main.__dict__)


def program_for(command: list[str], start_recording) -> Program | None:
    """The Program for a ``memlyze run`` command line ([executable, SCRIPT,
    ...], [executable, "-m", MODULE, ...] or [executable, "-c", CODE, ...])
    that start_recording() begins to record, or None when Python itself
    must run it."""
    target = command[1]
    if target == "-m":
        return Program("module", command, start_recording)
    if target == "-c":
        return Program("code", command, start_recording)
    if target.endswith((".pyc", ".pyo")) or not os.path.isfile(target):
        return None
    try:
        with open(target, "rb") as script:
            source = script.read()
    except OSError:
        return None  # Python says why
    if source.startswith(_ZIP_MAGIC):
        return None
    return Program("script", command, start_recording, source)


def _show_traceback_from(runner) -> None:
    """Makes the interpreter's report of the exception now leaving the
    program start at the program's frames: the hook in place (the program's
    own, or Python's) is shown the traceback without memlyze's frames (the
    command line's up to runner, then this module's)."""
    original = sys.excepthook
    own = globals()

    def excepthook(kind, value, traceback):
        sys.excepthook = original
        entry = traceback
        while entry is not None and entry.tb_frame is not runner:
            entry = entry.tb_next
        if entry is None:
            original(kind, value, traceback)
            return
        while entry is not None and entry.tb_frame.f_globals is own:
            entry = entry.tb_next
        # Python's own hook prints the exception's __traceback__, not its argument.
        if isinstance(value, BaseException):
            value.__traceback__ = entry
        original(kind, value, entry)

    sys.excepthook = excepthook
