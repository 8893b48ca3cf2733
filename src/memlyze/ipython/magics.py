"""``%%memlyze_flamegraph`` and ``%%memlyze_summary``: run the cell under a
tracker, then show its report below the cell's own output.

A wrong option, or a report the capture cannot give, is one line
("UsageError: ...", IPython's way: no traceback) and fails the cell.
"""

from __future__ import annotations

import os

from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.magic import Magics, cell_magic, magics_class

from ..cli._common import CliError, os_error_text
from ..cli.record import tracker_options
from ..formatting import terminal_text
from . import magic_options
from .cell_recording import CellCapture, run_cell_tracked


def _usage_error(error: CliError, capture: CellCapture | None = None) -> IPythonUsageError:
    message = str(error)
    if capture is not None and not capture.kept:
        # the temporary file's name means nothing to the user
        message = message.replace(capture.path, "the cell's capture")
    return IPythonUsageError(terminal_text(" ".join(message.split())))


def _check_page_path(path: str | None, force: bool, capture_path: str | None) -> None:
    if not path:
        return
    if os.path.isdir(path):
        raise CliError(f"{path} is a directory; give a file name with --html")
    if os.path.exists(path) and not force:
        raise CliError(f"{path} exists; use -f to overwrite it")
    if capture_path and os.path.abspath(path) == os.path.abspath(capture_path):
        raise CliError(f"{path} is the capture itself; give --html another file name")


@magics_class
class MemlyzeMagics(Magics):
    """The memlyze magics (``%load_ext memlyze`` registers them)."""

    def _run(self, prog: str, line: str, cell: str, options, report) -> None:
        """Records the cell into a capture (options.output or a temporary
        file), then calls report(capture); any CliError becomes one line."""
        capture = None
        try:
            capture = CellCapture(options.output, options.force)
            command = f"In [{self._cell_number()}]: {prog} {line}".rstrip()
            run_cell_tracked(self.shell, cell, capture, command,
                             tracker_options(options))
            report(capture)
        except CliError as error:
            raise _usage_error(error, capture) from None
        finally:
            if capture is not None:
                capture.discard()

    @cell_magic
    def memlyze_flamegraph(self, line: str, cell: str) -> None:
        """Runs the cell under memlyze, then shows its flame graph inline.

        %%memlyze_flamegraph [--leaks | --temporary] [--native] [--python-allocators]
                             [--sample-interval BYTES] [--split-threads] [--inverted]
                             [--temporal] [-o CAPTURE] [--html PAGE] [-f] ...

        The graph shows the memory the cell held at its peak (or what --leaks,
        --temporary ... select) in a self-contained page that makes no network
        request. `%%memlyze_flamegraph --help` lists every option.
        """
        try:
            options = magic_options.parse(magic_options.flamegraph_parser(), line)
            if options is None:
                return
            _check_page_path(options.html, options.force, options.output)
        except CliError as error:
            raise _usage_error(error) from None
        self._run(magic_options.FLAMEGRAPH, line, cell, options,
                  lambda capture: self._show_flamegraph(capture, options))

    def _show_flamegraph(self, capture: CellCapture, options) -> None:
        from IPython.display import display

        from ..cli.flamegraph import load_flame_data
        from ..reports import flamegraph_html
        from .cell_frames import hoist_cell_frames, label_cell_file
        from .flame_output import bundle

        options.file = capture.path
        data = load_flame_data(options)
        if capture.cell_file:
            if not options.inverted and not options.all_frames:
                hoist_cell_frames(data, capture.cell_file, options.split_threads)
            label_cell_file(data, capture.cell_file, self._cell_label())
        page = flamegraph_html.render(data)
        if options.html:
            try:
                with open(options.html, "w", encoding="utf-8") as handle:
                    handle.write(page)
            except OSError as error:
                raise CliError(f"cannot write {options.html}: {os_error_text(error)}") from None
        display(bundle(data, page, options.height, options.html), raw=True)

    @cell_magic
    def memlyze_summary(self, line: str, cell: str) -> None:
        """Runs the cell under memlyze, then prints the locations holding the
        most memory at the cell's peak (or what --leaks, --temporary select).

        %%memlyze_summary [-n N] [--leaks | --temporary] [--native]
                          [--python-allocators] [--sample-interval BYTES] [-o CAPTURE] ...

        `%%memlyze_summary --help` lists every option.
        """
        try:
            options = magic_options.parse(magic_options.summary_parser(), line)
            if options is None:
                return
        except CliError as error:
            raise _usage_error(error) from None
        self._run(magic_options.SUMMARY, line, cell, options,
                  lambda capture: print(self._summary(capture, options)))

    def _summary(self, capture: CellCapture, options) -> str:
        from ..cli._selectors import load_report
        from .summary_text import render

        report = load_report(capture.path, options)
        return render(report, options.top, {capture.cell_file: self._cell_label()})

    def _cell_label(self) -> str:
        return f"Cell In[{self._cell_number()}]"

    def _cell_number(self) -> int:
        """The number of the cell's prompt, In [N]: the shell's count already
        moved past it while the cell runs."""
        outer = self.shell.displayhook.exec_result
        number = getattr(outer, "execution_count", None)
        return number if isinstance(number, int) else self.shell.execution_count
