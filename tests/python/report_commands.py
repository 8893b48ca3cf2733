"""Every CLI report command, as argument lists for one capture.

Shared by the tests that hold every report to a damaged, hostile or
disk-full capture: a new report command belongs here, so that all of them
meet it.
"""

from __future__ import annotations

from pathlib import Path

EXPORT_FORMATS = ("pprof", "speedscope", "collapsed", "csv", "json")


def report_commands(capture: Path, output_directory: Path) -> dict[str, list[str]]:
    """{name: memlyze arguments} running every report on capture, writing
    any file they make under output_directory."""
    capture = str(capture)
    out = Path(output_directory)
    commands = {
        "summary": ["summary", capture],
        "stats": ["stats", capture],
        "stats --json": ["stats", "--json", capture],
        "tree": ["tree", "--plain", capture],
        "table": ["table", capture],
        "table --html": ["table", "--html", "-o", str(out / "table.html"), capture],
        "flamegraph": ["flamegraph", "-o", str(out / "flame.html"), capture],
        "diff": ["diff", capture, capture],
        "plot": ["plot", "-o", str(out / "plot.png"), capture],
    }
    for name in EXPORT_FORMATS:
        commands[f"export {name}"] = ["export", "--format", name, "-o",
                                      str(out / f"export.{name}"), capture]
    return commands
