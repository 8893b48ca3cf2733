"""memlyze's argparse: errors as one line, help at the terminal's width.
Imported on first use through _common (see there)."""

from __future__ import annotations

import argparse

from ._common import PROG, UsageError, terminal_columns


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but errors become a UsageError instead of usage + exit."""

    def error(self, message):
        raise UsageError(f"{self.prog.removeprefix(PROG + ' ')}: {message} (see '{self.prog} --help')")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's, told the width: left to itself it imports shutil (and
    bz2, lzma, fnmatch with it) at every add_argument, a few ms more before
    `memlyze run` can start the program."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        if width is None:
            width = terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


def make_parser(command: str, description: str, **kwargs) -> ArgumentParser:
    return ArgumentParser(
        prog=f"{PROG} {command}",
        description=description,
        formatter_class=HelpFormatter,
        **kwargs,
    )
