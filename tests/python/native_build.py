"""Builds the test-only C code in tests/python/native_extension with the
compiler this Python was built with. Nothing here is installed."""

from __future__ import annotations

import shlex
import subprocess
import sysconfig
from pathlib import Path

SOURCES = Path(__file__).resolve().parent / "native_extension"
FLAGS = ["-shared", "-fPIC", "-O1", "-g", "-pthread", "-Wl,--build-id"]


def compiler() -> list[str]:
    return shlex.split(sysconfig.get_config_var("CC") or "cc")


def build_extension(directory: Path, extra_flags=()) -> Path:
    """Compiles native_allocations.c into directory; returns the .so path."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    output = Path(directory) / f"native_allocations{suffix}"
    include = sysconfig.get_paths()["include"]
    command = [*compiler(), *FLAGS, *extra_flags, f"-I{include}",
               str(SOURCES / "native_allocations.c"), "-o", str(output)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return output


def build_late_library(directory: Path) -> Path:
    """Compiles late_library.c into directory; returns the .so path."""
    output = Path(directory) / "liblate_library.so"
    command = [*compiler(), *FLAGS, str(SOURCES / "late_library.c"), "-o", str(output)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return output


def build_mapping_library(directory: Path) -> Path:
    """Compiles mapping_library.c (mmap and munmap for ctypes) into directory;
    returns the .so path."""
    output = Path(directory) / "libmapping_library.so"
    command = [*compiler(), *FLAGS, str(SOURCES / "mapping_library.c"), "-o", str(output)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return output
