"""--native reports on a capture whose recorded library path is no longer a
readable regular file (a FIFO, a directory, a device): symbolising opens
only regular files and never blocks, so every report finishes, the frames of
that library stay unsymbolised (address and library) and the others resolve."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import check, memlyze, write_script
from native_build import build_late_library

PROGRAM = """
import ctypes
import sys

library = ctypes.CDLL(sys.argv[1])
library.late_library_allocate(ctypes.c_ulong(3_333_331))  # LIBRARY
kept = bytearray(2_000_000)
"""

# Each report must finish long before this; a blocking open() would not.
REPORT_TIMEOUT = 30


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A --native capture of PROGRAM with its library in a directory of its own."""
    directory = tmp_path_factory.mktemp("native_unreadable")
    library = build_late_library(directory)
    script = write_script(directory, "uses_library.py", PROGRAM)
    capture = directory / "library.mlyze"
    check(memlyze("run", "--native", "-o", capture, script, library, cwd=directory))
    return directory, library, capture


def replace_library(library: Path, kind: str) -> None:
    """Puts a FIFO, a directory or a device where the library was."""
    library.unlink()
    if kind == "fifo":
        os.mkfifo(library)
    elif kind == "directory":
        library.mkdir()
    else:
        library.symlink_to("/dev/zero")


def run_report(directory: Path, *args) -> subprocess.CompletedProcess:
    try:
        return check(memlyze(*args, cwd=directory, timeout=REPORT_TIMEOUT))
    except subprocess.TimeoutExpired:
        pytest.fail(f"memlyze {' '.join(map(str, args))} did not finish in {REPORT_TIMEOUT} s")


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_reports_finish_when_the_library_is_no_regular_file(recorded, tmp_path, kind):
    directory, library, capture = recorded
    work = tmp_path / "work"
    work.mkdir()
    # The capture names the library's path: swap that path, restore it after.
    saved = tmp_path / library.name
    shutil.copy2(library, saved)
    replace_library(library, kind)
    try:
        summary = run_report(work, "summary", capture).stdout
        run_report(work, "stats", capture)
        tree = run_report(work, "tree", "--plain", capture).stdout
        run_report(work, "flamegraph", "-o", work / "out.html", capture)
    finally:
        if library.is_dir() and not library.is_symlink():
            library.rmdir()
        else:
            library.unlink()
        shutil.copy2(saved, library)
    assert "<unresolved 0x" in summary and "object file not readable" in summary, summary
    assert str(library) in summary, summary  # the library is still named
    assert "late_library_allocate" not in summary + tree
    assert "Py_RunMain" in summary, summary  # the other libraries still resolve
    assert (work / "out.html").stat().st_size > 0


def test_reports_finish_when_the_separate_debug_file_is_a_fifo(tmp_path):
    """A stripped library whose .gnu_debuglink names a FIFO next to it:
    libdwfl's search for separate debug information must not open it."""
    objcopy = shutil.which("objcopy")
    if not objcopy:
        pytest.skip("objcopy is not installed")
    library = build_late_library(tmp_path)
    debug_file = tmp_path / "liblate_library.debug"
    subprocess.run([objcopy, "--only-keep-debug", library, debug_file], check=True)
    subprocess.run([objcopy, "--strip-all", f"--add-gnu-debuglink={debug_file}", library],
                   check=True)
    debug_file.unlink()
    os.mkfifo(debug_file)
    script = write_script(tmp_path, "uses_library.py", PROGRAM)
    capture = tmp_path / "stripped.mlyze"
    check(memlyze("run", "--native", "-o", capture, script, library, cwd=tmp_path))
    summary = run_report(tmp_path, "summary", capture).stdout
    run_report(tmp_path, "flamegraph", "-o", tmp_path / "out.html", capture)
    # Its exported symbol still names the function.
    assert "late_library_allocate" in summary, summary
