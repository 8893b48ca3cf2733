"""The layers of docs/architecture.md, held against the sources: the core
never includes Python.h, only src/binding/interpreter/ includes CPython's
internal headers, and the core's stages include only their own stage or the
stages below them."""

from __future__ import annotations

import re
from pathlib import Path

SOURCES = Path(__file__).resolve().parents[2] / "src"
INCLUDE = re.compile(r'^\s*#\s*include\s+[<"]([^>"]+)[>"]', re.M)
# What each core stage may include besides itself.
CORE_STAGES_BELOW = {
    "base": set(),
    "format": {"base"},
    "recording": {"base", "format"},
    "analysis": {"base", "format"},
    "reports": {"base", "format", "analysis"},
    "exports": {"base", "format", "analysis"},
    "live": {"base", "format", "recording"},
}


def c_files(folder: Path):
    return sorted(path for path in folder.rglob("*") if path.suffix in (".c", ".h"))


def includes(path: Path) -> list[str]:
    return INCLUDE.findall(path.read_text(encoding="utf-8"))


def test_the_core_knows_nothing_of_python():
    offenders = [str(path) for path in c_files(SOURCES / "core")
                 if any(name == "Python.h" or name.startswith("internal/")
                        for name in includes(path))]
    assert offenders == []


def test_only_the_interpreter_layer_reads_cpython_internals():
    readers = {path.relative_to(SOURCES).parts[1] for path in c_files(SOURCES / "binding")
               if any(name.startswith("internal/pycore") for name in includes(path))}
    assert readers == {"interpreter"}


def test_core_stages_include_only_their_own_stage_or_the_stages_below():
    wrong = []
    for path in c_files(SOURCES / "core"):
        stage = path.relative_to(SOURCES / "core").parts[0]
        for name in includes(path):
            parts = name.split("/")
            if parts[0] == "binding":
                wrong.append(f"{path.relative_to(SOURCES)} includes {name}")
            elif parts[0] == "core" and parts[1] not in CORE_STAGES_BELOW[stage] | {stage}:
                wrong.append(f"{path.relative_to(SOURCES)} includes {name}")
    assert wrong == []


def test_every_source_file_has_a_stage_folder():
    loose = [str(path.relative_to(SOURCES)) for layer in ("core", "binding")
             for path in (SOURCES / layer).iterdir() if path.suffix in (".c", ".h")]
    assert loose == []
