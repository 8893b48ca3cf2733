"""The detail pane's text for one node of a TreeView: the frame, its source
lines (read with linecache when the file exists), bytes, share, allocation
count and threads. Plain text: names from the capture are escaped
(formatting.terminal_text) and never read as markup."""

from __future__ import annotations

import linecache

from .. import formatting as fmt

SOURCE_CONTEXT = 3  # lines shown above and below the frame's line
THREADS_SHOWN = 8


def source_lines(file: str, line: int) -> list[str]:
    """The lines around file:line, the line itself marked '>', or []."""
    if not file or line <= 0:
        return []
    lines = linecache.getlines(file)
    if not lines or line > len(lines):
        return []
    first = max(line - SOURCE_CONTEXT, 1)
    last = min(line + SOURCE_CONTEXT, len(lines))
    width = len(str(last))
    return [f"{'>' if number == line else ' '} {number:>{width}}  "
            f"{fmt.terminal_text(lines[number - 1].rstrip())}"
            for number in range(first, last + 1)]


def thread_lines(view, index: int) -> list[str]:
    split_thread = view.thread_of(index)
    if split_thread is not None:
        return [f"Thread:      {fmt.terminal_text(split_thread)}"]
    if view.threads is None:
        return []
    threads = view.threads[index]
    if not threads:
        return ["Threads:     not known (folded in the per-thread tree)"]
    out = [f"Threads:     {len(threads)}"]
    for label, nbytes in threads[:THREADS_SHOWN]:
        out.append(f"  {fmt.human_bytes(nbytes):>10}  {fmt.terminal_text(label)}")
    if len(threads) > THREADS_SHOWN:
        out.append(f"  ... {len(threads) - THREADS_SHOWN} more")
    return out


def detail_text(view, index: int) -> str:
    function, file, line = view.names[index]
    nbytes = view.bytes[index]
    out = [fmt.terminal_text(function)]
    out.append(f"{fmt.terminal_text(file)}:{line}" if file else "(no source location)")
    out.append("")
    out.append(f"Bytes:       {fmt.human_bytes(nbytes)} ({fmt.human_count(nbytes)} B), "
               f"{fmt.percent(nbytes, view.total)} of the selection")
    if not view.inverted:
        out.append(f"Own bytes:   {fmt.human_bytes(view.self_bytes[index])} "
                   "(allocated in this frame itself)")
    out.append(f"Allocations: {fmt.human_count(view.count[index])}")
    out += thread_lines(view, index)
    if view.import_hidden[index]:
        out.append("Import:      run by importlib's bootstrap (i hides it)")
    source = source_lines(file, line)
    if source:
        out += ["", "Source:", *source]
    elif file:
        out += ["", "Source:      not available (no such file here)"]
    return "\n".join(out)
