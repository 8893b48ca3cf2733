"""Function and file names are the profiled program's text: a name holding
terminal control characters (colour, window title, screen clear, a newline)
must reach the terminal escaped, never raw, in every text report."""

from __future__ import annotations

import re

import pytest

from conftest import check, memlyze, write_script

# Colour, set the window title (OSC ... BEL), clear the screen, a newline,
# a tab and a C1 control (CSI as one code point).
EVIL_FUNCTION = "red\x1b[31m title\x1b]0;pwned\x07 clear\x1b[2J line\nbreak\ttab c1\x9b end"
EVIL_FILE = "evil\x1b[2J.py"
ESCAPED_FUNCTION = r"red\x1b[31m title\x1b]0;pwned\x07 clear\x1b[2J line\nbreak\ttab c1\x9b end"
ESCAPED_FILE = r"evil\x1b[2J.py"

PROGRAM = f"""
source = "def allocate():\\n    return bytearray(3_000_000)\\n"
namespace = {{}}
exec(compile(source, {EVIL_FILE!r}, "exec"), namespace)
allocate = namespace["allocate"]
allocate.__code__ = allocate.__code__.replace(co_name={EVIL_FUNCTION!r},
                                              co_qualname={EVIL_FUNCTION!r})
kept = allocate()
"""

# Raw ESC, BEL, any other C0 control but the report's own newlines, DEL and C1.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


@pytest.fixture(scope="module")
def evil_capture(tmp_path_factory):
    directory = tmp_path_factory.mktemp("terminal_escapes")
    script = write_script(directory, "evil_names.py", PROGRAM)
    check(memlyze("run", "-o", "evil.mlyze", script, cwd=directory))
    return directory, directory / "evil.mlyze"


REPORTS = [
    ("summary",),
    ("stats",),
    ("tree",),            # stdout is a pipe: the text tree
    ("tree", "--plain"),
    ("table",),
    ("table", "--leaks"),
]


@pytest.mark.parametrize("report", REPORTS, ids=" ".join)
def test_text_reports_escape_control_characters(evil_capture, report):
    directory, capture = evil_capture
    output = check(memlyze(*report, capture, cwd=directory)).stdout
    raw = sorted(set(RAW_CONTROL.findall(output)))
    assert not raw, f"raw control characters {raw!r} in:\n{output!r}"
    assert ESCAPED_FUNCTION in output, output
    assert ESCAPED_FILE in output, output
    # The newline inside the name did not break the line the name is on.
    line = next(line for line in output.splitlines() if ESCAPED_FUNCTION in line)
    assert ESCAPED_FILE in line, line


def test_diff_escapes_control_characters(evil_capture, tmp_path):
    directory, capture = evil_capture
    empty = write_script(tmp_path, "empty.py", "pass\n")
    check(memlyze("run", "-o", tmp_path / "empty.mlyze", empty, cwd=tmp_path))
    output = check(memlyze("diff", tmp_path / "empty.mlyze", capture, cwd=directory)).stdout
    assert not RAW_CONTROL.findall(output), repr(output)
    assert ESCAPED_FUNCTION in output and ESCAPED_FILE in output, output


def test_terminal_text_escapes_like_python_repr():
    from memlyze.formatting import terminal_text

    assert terminal_text("plain name é ✓") == "plain name é ✓"
    assert terminal_text("\x1b[31m\x07\x00\x7f\x85\x9f") == r"\x1b[31m\x07\x00\x7f\x85\x9f"
    assert terminal_text("a\nb\tc\rd") == r"a\nb\tc\rd"
    assert terminal_text("back\\slash") == r"back\\slash"  # escapes stay unambiguous


def test_interactive_tree_shows_names_escaped_and_not_as_markup(evil_capture, tmp_path):
    import asyncio

    pytest.importorskip("textual")
    from textual.widgets import Tree

    from memlyze.cli.tree import TreeView, make_app
    from memlyze.reports.report_data import open_report

    _, capture = evil_capture
    report = open_report(capture, progress=None)
    view = TreeView(report.tree(), report)

    async def drive():
        app = make_app(view, "test")
        async with app.run_test() as pilot:
            tree = app.query_one(Tree)
            labels = []
            pending = [tree.root]
            while pending:
                node = pending.pop()
                node.expand()
                await pilot.pause()
                labels.append(str(node.label))
                pending.extend(node.children)
            assert any(ESCAPED_FUNCTION in label for label in labels), labels
            assert not any(RAW_CONTROL.search(label) for label in labels), labels
            await pilot.press("q")

    asyncio.run(drive())
