"""memlyze's build backend: meson-python's, behind a check of the interpreter.

meson.build refuses an interpreter memlyze does not support too, but only
after `meson setup` has probed the C compiler and the libraries, and pip shows
that error inside some thirty lines of meson's output. This check runs before
meson does and stops with one line that names the supported versions. The
versions are read from supported_pythons in meson.build, the one list of them
(tests/python/test_unsupported_interpreter.py checks that pyproject.toml's
requires-python and classifiers agree with it).

It runs on whatever interpreter pip was started with, so it keeps to syntax
that Python 3.7 (the oldest meson-python installs on) can parse.
"""

from __future__ import annotations

import platform
import re
import sys
from pathlib import Path

MESON_BUILD = Path(__file__).resolve().parent.parent / "meson.build"


def supported_pythons(meson_build: Path = MESON_BUILD) -> list:
    """The versions of `supported_pythons = ['3.11', ...]` in meson.build."""
    match = re.search(r"^\s*supported_pythons\s*=\s*\[([^\]]*)\]", meson_build.read_text(), re.MULTILINE)
    versions = re.findall(r"'([^']+)'", match.group(1)) if match else []
    if not versions:
        raise RuntimeError(f"no supported_pythons = ['3.X', ...] line in {meson_build}")
    return versions


def refusal() -> str | None:
    """Why this interpreter cannot build memlyze, in one line, or None."""
    supported = supported_pythons()
    this = f"{platform.python_implementation()} {platform.python_version()}"
    if sys.implementation.name != "cpython" or "%d.%d" % sys.version_info[:2] not in supported:
        listed = ", ".join(supported[:-1]) + " and " + supported[-1] if len(supported) > 1 else supported[0]
        return f"memlyze supports CPython {listed} (this is {this})"
    return None


def _checked(name: str):
    """meson-python's hook NAME, run only when the interpreter is supported.

    mesonpy is imported only then, so that the refusal does not depend on
    which meson-python an old interpreter got."""

    def hook(*args, **kwargs):
        reason = refusal()
        if reason:
            sys.exit(reason)  # the message alone on stderr, exit status 1
        import mesonpy

        return getattr(mesonpy, name)(*args, **kwargs)

    hook.__name__ = hook.__qualname__ = name
    return hook


# The PEP 517 and PEP 660 hooks meson-python has. Every hook is checked: even
# building an sdist runs `meson setup`, which stops at meson.build's gate.
get_requires_for_build_sdist = _checked("get_requires_for_build_sdist")
get_requires_for_build_wheel = _checked("get_requires_for_build_wheel")
get_requires_for_build_editable = _checked("get_requires_for_build_editable")
build_sdist = _checked("build_sdist")
build_wheel = _checked("build_wheel")
build_editable = _checked("build_editable")
