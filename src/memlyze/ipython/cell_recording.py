"""Running one cell under a memlyze.Tracker, as IPython would run it alone.

The cell goes through ``shell.run_cell`` (so its magics, its displayed
result, its traceback and its variables in the user namespace are exactly
IPython's), without a history entry of its own: the magic's cell is the one
in the history. An exception in the cell is shown by that inner run; it is
then handed to the outer cell's result, so the kernel replies with an error
(a notebook run stops there) without showing the traceback twice.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ..cli._common import CliError, UsageError


class CellCapture:
    """Where the cell's capture goes: the -o file, or a temporary folder
    removed by ``discard``."""

    def __init__(self, output: str | None, force: bool):
        self._folder = None
        self.cell_file = None  # the file name the cell's code is compiled with
        self.kept = bool(output)
        if output:
            output = os.path.expanduser(output)
            if os.path.isdir(output):
                raise UsageError(f"{output} is a directory; give a capture file name with -o")
            if os.path.exists(output) and not force:
                raise UsageError(f"{output} exists; use -f to overwrite it")
            self.path = output
        else:
            self._folder = tempfile.mkdtemp(prefix="memlyze-cell-")
            self.path = os.path.join(self._folder, "cell.mlyze")

    def discard(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def run_cell_tracked(shell, cell: str, capture: CellCapture, command: str, tracker_options: dict):
    """Runs the cell with tracking on, into capture.path; returns IPython's
    ExecutionResult of the cell. CliError when tracking cannot start."""
    from .. import tracker as tracking

    # Before the start: naming the cell tokenizes it, memlyze's work, not the cell's.
    capture.cell_file = _cell_file_name(shell, cell)
    try:
        recorder = tracking.Tracker(capture.path, force=True, command=command, **tracker_options)
        recorder.start()
    except (tracking.TrackerError, OSError, ValueError, TypeError) as error:
        raise CliError(f"cannot start tracking the cell: {error}") from None
    outer = shell.displayhook.exec_result
    shown_before = shell.__dict__.get("showtraceback")
    show_traceback = shell.showtraceback

    def stop_then_show_traceback(*arguments, **keywords):
        # The cell ends where it raised: formatting the traceback (which
        # imports and highlights) is not the cell's memory.
        recorder.stop()
        return show_traceback(*arguments, **keywords)

    shell.showtraceback = stop_then_show_traceback
    try:
        result = shell.run_cell(cell, store_history=False)
    finally:
        recorder.stop()
        if shown_before is None:
            del shell.showtraceback
        else:
            shell.showtraceback = shown_before
        # the inner run cleared it: the outer cell's display goes on to its result
        shell.displayhook.exec_result = outer
    error = result.error_before_exec if result.error_before_exec is not None \
        else result.error_in_exec
    if error is not None and outer is not None and outer.error_in_exec is None:
        outer.error_in_exec = error
    return result


def _cell_file_name(shell, cell: str) -> str | None:
    """The file name IPython (or ipykernel) compiles this cell's code with,
    as run_cell will: frames of the cell carry it."""
    try:
        return shell.compile.get_code_name(cell, shell.transform_cell(cell),
                                           shell.execution_count)
    except Exception:  # an IPython without it: the graph keeps every frame
        return None
