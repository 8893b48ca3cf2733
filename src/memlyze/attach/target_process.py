"""What a process id names: whether it runs, whether it is a CPython, which
one, and whether memlyze's engine is loaded in it. Read from /proc only: no
tracing is needed, so these answers come before gdb is asked to attach."""

from __future__ import annotations

import os
import re
import sys
from typing import NamedTuple

from . import AttachError, elf_symbols, ptrace_permission

# The CPython image a process runs: a shared libpython, or the interpreter's
# own executable (a static build, as Debian's); which CPython it is, is read
# from the file (elf_symbols.py).
_LIBRARY_NAME = re.compile(r"^libpython\d+\.\d+[a-z]*\.so")
_VERSION_IN_NAME = re.compile(r"python(\d+\.\d+)")
# The engine's extension module, once memlyze has tracked in the process.
_ENGINE_NAME = re.compile(r"^_memlyze\..*\.so$")
# The builds memlyze can be installed for (meson.build's supported_pythons).
SUPPORTED_BUILDS = ("3.11", "3.12", "3.13", "3.13t")


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


def _build_of_file(handle, name: str) -> tuple[str, str] | None:
    """(version, abiflags) of the CPython an ELF file holds, from its exported
    Py_Version and the symbols only some builds export; None if it holds none."""
    symbols = elf_symbols.dynamic_symbols(handle)
    version = symbols.get("Py_Version")
    if version is None or not version.defined or version.size not in (4, 8):
        if symbols.get("Py_GetVersion", elf_symbols.Symbol(0, 0, False)).defined:
            # A CPython before 3.11 (which has no Py_Version): its file's name
            # says which, as python3.10 or libpython3.10.so.
            named = _VERSION_IN_NAME.search(name)
            return (named.group(1) if named else "older than 3.11"), ""
        return None
    number = int.from_bytes(elf_symbols.read_symbol(handle, version), "little")
    flags = ""
    if symbols.get("_Py_DecRefShared", elf_symbols.Symbol(0, 0, False)).defined:
        flags += "t"  # free-threaded: objects have shared reference counts
    if symbols.get("_Py_NegativeRefcount", elf_symbols.Symbol(0, 0, False)).defined:
        flags += "d"  # Py_REF_DEBUG: a debug build
    return f"{number >> 24}.{number >> 16 & 0xFF}", flags


def _python_build(pid: int, executable: str, files: dict[str, str]) -> tuple[str, str]:
    """(version, abiflags) of the CPython in the process, ("", "") if none:
    libpython's when one is mapped, else the executable's (a static build)."""
    candidates = [(f"/proc/{pid}/root{path}", name) for name, path in files.items()
                  if _LIBRARY_NAME.match(name)]
    candidates.append((f"/proc/{pid}/exe", os.path.basename(executable)))
    for candidate, name in candidates:
        try:
            with open(candidate, "rb") as handle:
                found = _build_of_file(handle, name)
        except PermissionError:
            raise _refused(pid) from None
        except (OSError, elf_symbols.ElfError):
            continue
        if found:
            return found
    return "", ""


def inspect(pid: int) -> TargetProcess:
    """The process PID, or an AttachError saying why there is none to attach to."""
    if pid == os.getpid():
        raise AttachError(f"process {pid} is memlyze itself")
    status = _read_status(pid)
    executable = _executable(pid)
    files = _mapped_files(pid)
    python, abiflags = _python_build(pid, executable, files)
    return TargetProcess(pid, executable, python, abiflags, status, frozenset(files))


def check_same_python(target: TargetProcess) -> None:
    """Raises AttachError unless the target runs a CPython that this memlyze
    (built for this interpreter) can be loaded into."""
    if not target.python:
        raise AttachError(f"process {target.pid} ({target.executable}) is not a Python "
                          "process: no CPython library or interpreter is mapped in it")
    if target.build != this_build():
        remedy = (f"run memlyze attach from an installation for Python {target.build}"
                  if target.build in SUPPORTED_BUILDS else
                  "memlyze supports CPython 3.11, 3.12, 3.13 and free-threaded 3.13t")
        raise AttachError(
            f"process {target.pid} runs Python {target.build} ({target.executable}), and this "
            f"memlyze is installed for Python {this_build()} ({sys.executable}): {remedy}")
