"""One test's figures, read from its capture into plain data (dicts, lists,
numbers), which pytest-xdist carries from a worker to the controller."""

from __future__ import annotations

import os

from .stack import Stack, StackFrame

STACKS_KEPT = 5  # largest stacks kept per test, for the summary and failures
FRAMES_KEPT = 16  # innermost frames kept per stack; reports show fewer
_RUNNER_DIRECTORIES = (f"{os.sep}_pytest{os.sep}", f"{os.sep}pluggy{os.sep}")


def _test_frames(stack) -> list[list]:
    """The stack's innermost frames up to the first of pytest's runner (which
    every test shares), as [function, file, line] lists. Memory the runner
    itself allocated keeps its own innermost frames."""
    frames = list(stack)
    for index, frame in enumerate(frames):
        if any(part in frame.file for part in _RUNNER_DIRECTORIES):
            if index:
                frames = frames[:index]
            break
    return [[frame.function, frame.file, frame.line] for frame in frames[:FRAMES_KEPT]]


def _stack_entries(allocations) -> list[dict]:
    return [{"bytes": allocation.bytes, "count": allocation.count,
             "frames": _test_frames(allocation.stack)} for allocation in allocations]


def _filtered_leaks(reader, leak_filter) -> tuple[int, list]:
    """Bytes leaked by the stacks leak_filter keeps, and the largest of them.
    An exception in filter_fn propagates: the test fails showing it."""
    kept = []
    for allocation in reader.leaks():
        frames = tuple(StackFrame(frame.function, frame.file, frame.line)
                       for frame in allocation.stack)
        if leak_filter(Stack(frames, allocation.bytes, allocation.count)):
            kept.append(allocation)
    return sum(allocation.bytes for allocation in kept), kept[:STACKS_KEPT]


def measure(path: str, *, leaks_checked: bool = False, leak_filter=None) -> dict:
    """The figures of the test recorded in path.

    ``peak`` is the peak of the memory the test allocated and still held
    (what was live before it started is not recorded); ``leaked`` what it
    allocated and did not free by its end. Sampled captures give estimates
    with 95% intervals (``*_ci95``); exact ones give null intervals.
    """
    from ..file_reader import FileReader

    with FileReader(path) as reader:
        summary = reader.analyze(top=1)
        result = {
            "sampled": bool(summary.get("sampled")),
            "peak": summary["peak_bytes"],
            "peak_ci95": summary.get("peak_bytes_ci95"),
            "leaked": summary["leaked_bytes"],
            "allocations": summary["total_allocations"],
            "top_stacks": _stack_entries(reader.peak_allocations(top=STACKS_KEPT)),
        }
        if leaks_checked:
            if leak_filter is None:
                result["leak_stacks"] = _stack_entries(reader.leaks(top=STACKS_KEPT))
            else:
                result["leaked"], kept = _filtered_leaks(reader, leak_filter)
                result["leak_stacks"] = _stack_entries(kept)
    return result
