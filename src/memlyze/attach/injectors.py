"""How a Python file gets run inside another process, at a safe point.

An injector's one job: have the target's main thread run a given Python
file with the GIL held, where the interpreter is consistent, and return as
soon as that is arranged (the file then answers through the exchange
directory). On CPython 3.11-3.13 that is gdb's: it stops the process for a
moment, schedules ``PyRun_SimpleString`` with ``Py_AddPendingCall`` (which
the eval loop runs between two bytecodes), and detaches, leaving no
breakpoint behind. PEP 768's ``sys.remote_exec(pid, path)`` (CPython 3.14)
does the same job without a debugger; it becomes a second Injector here
once memlyze builds for 3.14 (docs/attach.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from . import AttachError, ptrace_permission

# mmap(2) arguments for one private, anonymous, read-write page.
_PROT_READ_WRITE = 0x1 | 0x2
_MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20
PAGE_SIZE = 4096
# Our lines in gdb's output.
_MARK = "memlyze-attach:"

# Run with gdb -batch -p PID. While the process is stopped nothing in it
# may be assumed idle: a thread may be inside malloc holding its lock, so
# the code is not put where malloc would place it but into a page mmap
# gives (a system call, no lock), written by gdb word by word.
# Py_AddPendingCall needs no GIL and no thread state; the eval loop calls
# PyRun_SimpleString(page) between two bytecodes of the main thread. Both
# take one pointer argument, so the call matches the pending call's type.
_GDB_SCRIPT = """\
set pagination off
set confirm off
set width 0
set unwindonsignal on
sharedlibrary libc[.-]
sharedlibrary libpython
printf "{mark} stopped\\n"
set $memlyze_page = ((void *(*)(void *, unsigned long, int, int, int, long)) mmap)(0, {size}, {protection}, {flags}, -1, 0)
if $memlyze_page == (void *) -1
  printf "{mark} no page\\n"
else
{writes}
  set $memlyze_queued = ((int (*)(void *, void *)) Py_AddPendingCall)((void *) &PyRun_SimpleString, $memlyze_page)
  printf "{mark} queued %d\\n", $memlyze_queued
end
detach
quit
"""


class Injector:
    """Runs a Python file inside a process (see the module's docstring)."""

    name = "none"

    def check_available(self) -> None:
        """Raises AttachError when this injector cannot be used here."""
        raise NotImplementedError

    def run_file(self, pid: int, path: str, timeout: float) -> None:
        """Arranges for the target's main thread to run the file at path;
        raises AttachError when it cannot."""
        raise NotImplementedError


class GdbInjector(Injector):
    name = "gdb"

    def __init__(self, gdb: str = "gdb"):
        self.gdb = gdb

    def check_available(self) -> None:
        if shutil.which(self.gdb) is None:
            raise AttachError("gdb is not installed (or not on PATH), and memlyze attach "
                              "needs it on Python 3.11-3.13 (Debian, Ubuntu: apt-get install gdb)")

    def run_file(self, pid: int, path: str, timeout: float) -> None:
        with open(path, "rb") as source:
            code = source.read()
        if len(code) >= PAGE_SIZE:
            raise AttachError(f"the code to inject is {len(code)} bytes, more than a page")
        with tempfile.NamedTemporaryFile("w", prefix="memlyze-attach-", suffix=".gdb") as script:
            script.write(gdb_script(code))
            script.flush()
            output = self._run_gdb(pid, script.name, timeout)
        check_gdb_output(pid, output)

    def _run_gdb(self, pid: int, script: str, timeout: float) -> str:
        command = [self.gdb, "-batch", "-nx", "-nw", "-q",
                   # No scripts of the target's (libpython's -gdb.py) and no
                   # downloads: only what this script says.
                   "-iex", "set auto-load off", "-iex", "set debuginfod enabled off",
                   # Symbols of libc and libpython only, not of every library.
                   "-iex", "set auto-solib-add off",
                   "-p", str(pid), "-x", script]
        environment = dict(os.environ, LC_ALL="C")
        try:
            finished = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                      text=True, errors="replace", timeout=timeout,
                                      env=environment)
        except subprocess.TimeoutExpired:
            raise AttachError(f"gdb did not finish with process {pid} within {timeout:g} s "
                              "(it was stopped: the process may be stuck)") from None
        except OSError as error:
            raise AttachError(f"cannot run gdb: {error.strerror}") from None
        return finished.stdout + finished.stderr


def gdb_script(code: bytes) -> str:
    """The gdb commands that copy code (NUL-terminated) into a fresh page of
    the target and queue it."""
    padded = code + b"\0" * (8 - len(code) % 8)
    writes = "\n".join(
        f"  set *(unsigned long *)($memlyze_page + {offset}) = "
        f"{int.from_bytes(padded[offset:offset + 8], 'little'):#x}"
        for offset in range(0, len(padded), 8))
    return _GDB_SCRIPT.format(mark=_MARK, size=PAGE_SIZE, protection=_PROT_READ_WRITE,
                              flags=_MAP_PRIVATE_ANONYMOUS, writes=writes)


def check_gdb_output(pid: int, output: str) -> None:
    """Raises AttachError unless gdb's output says the code was queued."""
    marks = [line.split(_MARK, 1)[1].strip() for line in output.splitlines() if _MARK in line]
    if "queued 0" in marks:
        return
    if "stopped" not in marks:
        refusal = next((line for line in output.splitlines() if line.startswith("ptrace:")), "")
        if refusal or "Could not attach to process" in output:
            raise AttachError(ptrace_permission.refusal_reason(pid, refusal))
        raise AttachError(f"gdb could not attach to process {pid}: {_gdb_error(output)}")
    if "no page" in marks:
        raise AttachError(f"process {pid} could not map a page for memlyze's code "
                          "(its address space or memory limit is exhausted)")
    if any(mark.startswith("queued ") for mark in marks):
        raise AttachError(f"process {pid} refused the pending call (its queue of pending "
                          "calls is full): try again")
    raise AttachError(f"gdb could not queue memlyze's code in process {pid}: {_gdb_error(output)}")


def _gdb_error(output: str) -> str:
    """gdb's most telling line of an output that lacks our marks."""
    lines = [line.strip() for line in output.splitlines()
             if line.strip() and _MARK not in line and not line.startswith("warning:")]
    telling = [line for line in lines if "No symbol" in line or "rror" in line
               or "annot" in line or "not" in line]
    return (telling or lines or ["no output"])[-1]


def injector_for(version: tuple[int, int]) -> Injector:
    """The injector for a target running that CPython version."""
    # CPython 3.14 and later: sys.remote_exec (docs/attach.md). memlyze does
    # not build there yet, so an attaching memlyze is never on 3.14.
    return GdbInjector()
