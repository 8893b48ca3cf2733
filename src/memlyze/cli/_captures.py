"""Reports over several captures (`memlyze summary app.mlyze*`): what the
commands share to read them and show their process tree."""

from __future__ import annotations

from ._common import UsageError, load_summary, report_truncation

MERGE_HELP = ("with several captures: one report whose root's children are the processes "
              "(default: the process tree, then one report per capture)")


def add_files(parser) -> None:
    parser.add_argument("file", metavar="FILE", nargs="+",
                        help="capture file (.mlyze); several (app.mlyze*, from "
                             "--follow-subprocesses) give the process tree")
    parser.add_argument("--merge", action="store_true", help=MERGE_HELP)


def check_single(options, command: str, why: str = "") -> None:
    if len(options.file) > 1 and not options.merge:
        raise UsageError(f"{command}: several captures need --merge{why}")


def load_processes(paths, top: int = 10):
    """The captures' Process entries in tree order (reports truncation)."""
    from memlyze.reports import process_tree

    processes = []
    for path in dict.fromkeys(paths):  # a file named twice counts once
        summary = load_summary(path, top)
        report_truncation(summary, path)
        processes.append(process_tree.Process(path, summary))
    return process_tree.build(processes)


def load_merged(paths, options):
    """The MergedReport of the captures with the options' selectors."""
    from memlyze.reports.merged_report import MergedReport

    from ._selectors import load_report

    return MergedReport({path: load_report(path, options) for path in dict.fromkeys(paths)})


def tree_of(merged) -> str:
    from memlyze.reports import process_tree

    return process_tree.render(merged.processes)
