"""What a process id names: whether it runs, whether it is a CPython, which
one, and whether memlyze's engine is loaded in it. Read from /proc only: no
tracing is needed, so these answers come before gdb is asked to attach."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import NamedTuple

from . import AttachError, ptrace_permission

# The CPython image a process runs: a shared libpython, or the interpreter's
# own executable (a static build, as Debian's). The version and the ABI
# flags ("t": free-threaded, "d": debug) are in the file names.
_LIBRARY_NAME = re.compile(r"^libpython(\d+\.\d+)([a-z]*)\.so")
_EXECUTABLE_NAME = re.compile(r"^python(\d+\.\d+)([a-z]*)$")
# The engine's extension module, once memlyze has tracked in the process.
_ENGINE_NAME = re.compile(r"^_memlyze\..*\.so$")


class TargetProcess(NamedTuple):
    pid: int
    executable: str
    python: str  # "3.11", or "" when no CPython runs in the process
    abiflags: str
    status: dict  # the fields of /proc/PID/status
    mapped_files: frozenset  # the base names of its mapped files

    @property
    def build(self) -> str:
        return self.python + self.abiflags

    @property
    def engine_loaded(self) -> bool:
        return any(_ENGINE_NAME.match(name) for name in self.mapped_files)


def this_build() -> str:
    """This interpreter's version and ABI flags, e.g. '3.11' or '3.13t'."""
    return f"{sys.version_info[0]}.{sys.version_info[1]}{sys.abiflags}"


def _refused(pid: int) -> AttachError:
    return AttachError(ptrace_permission.refusal_reason(pid))


def _read_status(pid: int) -> dict:
    try:
        fields = ptrace_permission.status_fields(pid)
    except FileNotFoundError:
        raise AttachError(f"no such process: {pid}") from None
    except PermissionError:
        raise _refused(pid) from None
    except OSError as error:
        raise AttachError(f"cannot read /proc/{pid}/status: {error.strerror}") from None
    if fields.get("State", "").startswith(("Z", "X")):
        raise AttachError(f"process {pid} has exited (it is a zombie waiting for its parent)")
    thread_group = fields.get("Tgid", str(pid))
    if thread_group != str(pid):
        raise AttachError(f"{pid} is a thread of process {thread_group}: give that process id")
    return fields


def _mapped_files(pid: int) -> dict[str, str]:
    """Base name -> path of every file mapped into the process."""
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="surrogateescape") as maps:
            lines = maps.read().splitlines()
    except FileNotFoundError:
        raise AttachError(f"no such process: {pid}") from None
    except PermissionError:
        raise _refused(pid) from None
    files = {}
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith("/"):
            path = parts[5].removesuffix(" (deleted)")
            files.setdefault(os.path.basename(path), path)
    return files


def _executable(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except FileNotFoundError:
        # A kernel thread has no executable; a process that just ended has none left.
        if os.path.exists(f"/proc/{pid}"):
            raise AttachError(f"process {pid} is a kernel thread, not a Python process") from None
        raise AttachError(f"no such process: {pid}") from None
    except PermissionError:
        raise _refused(pid) from None


def _asked_version(executable: str) -> tuple[str, str] | None:
    """The version of an executable whose name does not say it (a 'python3'
    of one's own build), asked of the executable itself."""
    code = "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}', sys.abiflags + '.')"
    try:
        answer = subprocess.run([executable, "-I", "-S", "-c", code], capture_output=True,
                                text=True, timeout=30, check=True).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    if len(answer) != 2:
        return None
    return answer[0], answer[1].removesuffix(".")


def _python_build(executable: str, files: dict[str, str]) -> tuple[str, str]:
    """(version, abiflags) of the CPython in the process, ("", "") if none."""
    for name in files:
        found = _LIBRARY_NAME.match(name)
        if found:
            return found.group(1), found.group(2)
    name = os.path.basename(executable)
    found = _EXECUTABLE_NAME.match(name)
    if found:
        return found.group(1), found.group(2)
    if name.startswith("python"):
        return _asked_version(executable) or ("", "")
    return "", ""


def inspect(pid: int) -> TargetProcess:
    """The process PID, or an AttachError saying why there is none to attach to."""
    if pid == os.getpid():
        raise AttachError(f"process {pid} is memlyze itself")
    status = _read_status(pid)
    executable = _executable(pid)
    files = _mapped_files(pid)
    python, abiflags = _python_build(executable, files)
    return TargetProcess(pid, executable, python, abiflags, status, frozenset(files))


def check_same_python(target: TargetProcess) -> None:
    """Raises AttachError unless the target runs a CPython that this memlyze
    (built for this interpreter) can be loaded into."""
    if not target.python:
        raise AttachError(f"process {target.pid} ({target.executable}) is not a Python "
                          "process: no CPython library or interpreter is mapped in it")
    if target.build != this_build():
        raise AttachError(
            f"process {target.pid} runs Python {target.build} ({target.executable}), and this "
            f"memlyze is installed for Python {this_build()} ({sys.executable}): run memlyze "
            f"attach from an installation for Python {target.build}")
