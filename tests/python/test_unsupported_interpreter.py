"""An interpreter memlyze does not support is refused with one line that names
the supported versions and the interpreter's, before anything is compiled:
`pip install .` and `pip install memlyze-*.tar.gz` on a real CPython 3.14
(Debian forky's, from `bash scripts/interpreters.sh 3.14`; scripts/test.sh
fetches it once and passes its path in MEMLYZE_PYTHON_3_14). These tests do not
depend on the interpreter running pytest, which only builds the sdist."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import REPO, clean_env

BACKEND_DIR = REPO / "build_backend"


def meson_supported_pythons() -> list[str]:
    """supported_pythons in meson.build, read here independently of the backend."""
    match = re.search(r"supported_pythons = \[(.*)\]", (REPO / "meson.build").read_text())
    assert match, "no supported_pythons = [...] in meson.build"
    return re.findall(r"'(3\.\d+)'", match.group(1))


SUPPORTED = meson_supported_pythons()


def expected_refusal(version: str) -> str:
    listed = ", ".join(SUPPORTED[:-1]) + " and " + SUPPORTED[-1]
    return f"memlyze supports CPython {listed} (this is CPython {version})"


def test_pyproject_agrees_with_meson_build():
    """requires-python and the version classifiers are static metadata (an
    index serves them, and pip's own check uses them) and must say what
    meson.build's list says: consecutive versions from the first to the last."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    minors = [int(version.split(".")[1]) for version in SUPPORTED]
    assert minors == list(range(minors[0], minors[-1] + 1))
    assert project["requires-python"] == f">={SUPPORTED[0]},<3.{minors[-1] + 1}"
    classified = [classifier.rsplit(" :: ", 1)[1] for classifier in project["classifiers"]
                  if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", classifier)]
    assert classified == SUPPORTED


@pytest.fixture(scope="module")
def python314() -> str:
    """A real CPython 3.14, never a skip: the refusal is to be shown on one."""
    python = os.environ.get("MEMLYZE_PYTHON_3_14")
    if not python:
        result = subprocess.run(["bash", str(REPO / "scripts/interpreters.sh"), "3.14"],
                                capture_output=True, text=True, timeout=900)
        python = result.stdout.strip()
        assert result.returncode == 0 and python, f"no CPython 3.14:\n{result.stderr}"
    return python


@pytest.fixture(scope="module")
def version314(python314) -> str:
    version = subprocess.run([python314, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version.startswith("3.14")
    return version


@pytest.fixture(scope="module")
def venv314(python314, tmp_path_factory) -> Path:
    """The python of a fresh venv of 3.14, with pip, as a user would make it."""
    venv = tmp_path_factory.mktemp("venv314") / "venv"
    subprocess.run([python314, "-m", "venv", str(venv)], check=True, timeout=300)
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> Path:
    """memlyze's sdist, built by the backend on this (supported) interpreter.
    meson dist packs the committed tree: uncommitted changes are not in it."""
    out = tmp_path_factory.mktemp("sdist")
    env = clean_env(PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        [sys.executable, "-c",
         "import sys; sys.path.insert(0, sys.argv[1]); import memlyze_build; "
         "print(memlyze_build.build_sdist(sys.argv[2]))", str(BACKEND_DIR), str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return out / result.stdout.strip().splitlines()[-1]


def tripwire_compilers(directory: Path) -> tuple[dict, Path]:
    """An environment whose C compilers (CC and those meson looks for on PATH)
    only write down that they were run, and the file they write to."""
    bin_dir = directory / "tripwire-bin"
    bin_dir.mkdir()
    log = directory / "compiler-invocations.log"
    for name in ("cc", "gcc", "clang", "c99", "x86_64-linux-gnu-gcc"):
        path = bin_dir / name
        path.write_text(f'#!/bin/sh\necho "$0 $*" >> "{log}"\nexit 1\n')
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    env = clean_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", CC=str(bin_dir / "cc"),
                    PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env, log


def test_backend_refuses_314_with_one_line(python314, version314, tmp_path):
    """Each hook of the backend on 3.14: exit status 1 and the refusal as its only output."""
    for hook in ("get_requires_for_build_sdist()", "get_requires_for_build_wheel()",
                 "get_requires_for_build_editable()", "build_sdist(sys.argv[2])",
                 "build_wheel(sys.argv[2])", "build_editable(sys.argv[2])"):
        result = subprocess.run(
            [python314, "-c", f"import sys; sys.path.insert(0, sys.argv[1]); import memlyze_build; "
                              f"memlyze_build.{hook}", str(BACKEND_DIR), str(tmp_path)],
            cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=60)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", expected_refusal(version314) + "\n"), hook


@pytest.mark.parametrize("source", ["tree", "sdist"])
def test_pip_install_on_314_is_refused_before_compiling(source, venv314, version314, request, tmp_path):
    """`pip install .` in the source tree and `pip install memlyze-*.tar.gz`,
    with pip's default build isolation: one line naming the supported versions
    and 3.14, no meson output and no compiler run."""
    target = str(REPO) if source == "tree" else str(request.getfixturevalue("sdist"))
    env, compiler_log = tripwire_compilers(tmp_path)
    result = subprocess.run([str(venv314), "-m", "pip", "install", target], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert [line.strip() for line in output.splitlines()].count(expected_refusal(version314)) == 1, output
    for meson_says in ("The Meson build system", "meson setup", "C compiler", "Compiling C object"):
        assert meson_says not in output, output
    assert not compiler_log.exists(), compiler_log.read_text()
