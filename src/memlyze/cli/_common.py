"""What every command shares: one-line errors and the argument parser.

argparse (with re, gettext and locale: about 10 ms) is imported only when a
parser is made (ArgumentParser, HelpFormatter and make_parser come from
argument_parser.py on first use), so that `memlyze run`, which parses its
usual options itself, starts the program without it.
"""

import os
import sys


PROG = "memlyze"


class CliError(Exception):
    """A problem with the user's input: printed as one line, no traceback."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


class UsageError(CliError):
    """Bad command-line arguments (exit status 2, like argparse)."""

    def __init__(self, message: str):
        super().__init__(message, status=2)


def error_line(message: str) -> str:
    from ..formatting import terminal_text

    message = " ".join(str(message).split())  # always exactly one line
    return f"{PROG}: error: {terminal_text(message)}"  # it may quote names from a capture


def print_error(message: str) -> None:
    sys.stderr.write(error_line(message) + "\n")
    sys.stderr.flush()


def warn(message: str) -> None:
    from ..formatting import terminal_text

    message = terminal_text(" ".join(str(message).split()))
    sys.stderr.write(f"{PROG}: warning: {message}\n")
    sys.stderr.flush()


def terminal_columns() -> int:
    """shutil.get_terminal_size().columns, without importing shutil."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def __getattr__(name: str):
    if name in ("ArgumentParser", "HelpFormatter", "make_parser"):
        from . import argument_parser

        return getattr(argument_parser, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def argument_type_error(message: str) -> Exception:
    """argparse.ArgumentTypeError(message), what an option's type raises,
    without importing argparse before a parser needs it."""
    import argparse

    return argparse.ArgumentTypeError(message)


def positive_int(text: str, maximum: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argument_type_error(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argument_type_error(f"expected a positive integer, got {text!r}")
    if maximum is not None and value > maximum:
        raise argument_type_error(f"expected at most {maximum}, got {text!r}")
    return value


def os_error_text(error: OSError) -> str:
    return error.strerror or str(error)


def describe_capture_error(path: str, error: BaseException) -> str:
    """One line saying why a capture could not be read."""
    if isinstance(error, IsADirectoryError):
        return f"{path} is a directory, not a capture file"
    if isinstance(error, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(error, PermissionError):
        return f"cannot read {path}: permission denied"
    if isinstance(error, OSError):
        return f"cannot read {path}: {os_error_text(error)}"
    text = str(error) or type(error).__name__
    return f"{path}: {text}"


def check_capture_path(path: str) -> None:
    """Errors that need no reader: missing, a directory, unreadable, empty."""
    if not os.path.exists(path):
        raise CliError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CliError(f"{path} is a directory, not a capture file")
    try:
        with open(path, "rb") as handle:
            first = handle.read(1)
    except OSError as error:
        raise CliError(describe_capture_error(path, error)) from None
    if not first:
        raise CliError(
            f"{path} is empty: not a memlyze capture (did the command start a Python process?)"
        )


def load_summary(path: str, top: int) -> dict:
    """The analysis of a capture, or a CliError saying why there is none."""
    from memlyze import _memlyze
    from memlyze.reports.progress import progress_for

    check_capture_path(path)
    progress = progress_for("auto")
    try:
        return _memlyze.analyze_capture(path, top=top, progress=progress)
    except (_memlyze.CaptureError, OSError, ValueError, RuntimeError, MemoryError) as error:
        raise CliError(describe_capture_error(path, error)) from None
    finally:
        if progress is not None:
            progress.finish()


def warn_truncated(path: str, note) -> None:
    """The one wording of the truncation warning, for every command."""
    note = str(note or "").strip() or "the recording process did not finish writing it"
    if note.lower().startswith("capture is truncated"):
        note = note[len("capture is truncated"):].lstrip(" :") or \
            "the recording process did not finish writing it"
    if "read 0 complete chunks" in note:
        # Only the header memlyze writes before the exec: no tracker ever ran.
        note = ("no Python process recorded into it (the command started none, or was killed "
                "before memlyze's tracker started)")
    warn(f"{path}: capture is truncated: {note}")


def report_truncation(summary: dict, path: str) -> None:
    if summary.get("truncated"):
        warn_truncated(path, summary.get("truncation_note"))


# --- the one rule for every writer: an existing file is replaced only with -f ---------

def add_force_option(parser) -> None:
    parser.add_argument("-f", "--force", action="store_true",
                        help="overwrite an existing output file")


def exists_message(path: str) -> str:
    return f"{path} already exists (use -f/--force to overwrite it)"


def check_output_file(path: str | None, force: bool, capture: str | None = None) -> None:
    """Refuses an output path that is a directory, the capture itself, or an
    existing file without force. None and '-' (stdout) always pass."""
    if path in (None, "-"):
        return
    if os.path.isdir(path):
        raise CliError(f"{path} is a directory; give a file name with -o")
    if capture is not None and os.path.abspath(path) == os.path.abspath(capture):
        raise CliError(f"{path} is the capture itself; choose another output file")
    if os.path.lexists(path) and not force:
        raise CliError(exists_message(path))


# --- a selection that matched nothing ---------------------------------------------------

def warn_if_nothing_selected(count: int, bytes_selected: int, what: str, options=None) -> bool:
    """Says (on stderr) that the selection matched no allocation, naming the
    filters that may be why. Returns True when it did."""
    if count or bytes_selected:
        return False
    filters = []
    for flag in ("include", "exclude"):
        for pattern in getattr(options, flag, None) or ():
            filters.append(f"--{flag} {pattern!r}")
    thread = getattr(options, "thread", None)
    if thread:
        filters.append(f"--thread {thread!r}")
    reason = f" with {' '.join(filters)}" if filters else ""
    warn(f"the selection matched no allocation{reason}: {what} is empty")
    return True
