"""The Python subprocesses a recording did not profile, named at its end.

The top recorded process creates a notes file (in the temporary folder, so
that a glob of the captures never meets it) and passes its path to its
descendants in the recording options. A line is appended, with one
``write``, for each Python program that will not record: by the exec hook
of any recorded process (binding/hooks/exec_watch.c: not followed, -I, -E,
-S, an environment without the hook) and by a followed interpreter that
cannot load memlyze. At its end the top process reads the file, writes one
``memlyze: warning:`` line per kind on its stderr and removes the file.

A line is ``REASON<TAB>COMMAND``.
"""

from __future__ import annotations

import os

REASONS = {
    "option-I": "-I ignores PYTHONPATH",
    "option-E": "-E ignores PYTHONPATH",
    "option-S": "-S skips the site module",
    "environment": "its environment lost memlyze's PYTHONPATH hook",
    "cannot-load": "that interpreter cannot load this memlyze: another version or build",
    "cannot-record": "its tracker could not start",
}
COMMANDS_NAMED = 3
COMMAND_WIDTH = 120


def create() -> str | None:
    """A new empty notes file's path, or None when none can be made."""
    folder = os.environ.get("TMPDIR") or "/tmp"
    for attempt in range(5):
        path = os.path.join(folder, f"memlyze-{os.getpid()}-{os.urandom(6).hex()}.notes")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
            return path
        except FileExistsError:
            continue
        except OSError:
            return None
    return None


def append(path: str | None, reason: str, command: str) -> None:
    """Adds one note (from Python: an interpreter that could not record)."""
    if not path:
        return
    line = f"{reason}\t{' '.join(command.split())}\n".encode(errors="replace")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        os.write(descriptor, line)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def read(path: str) -> list[tuple[str, str]]:
    """The (reason, command) notes in the file; [] if it cannot be read."""
    try:
        with open(path, "rb") as notes:
            text = notes.read(1 << 20).decode(errors="replace")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        reason, tab, command = line.partition("\t")
        if tab:
            found.append((reason, command))
    return found


def _commands(notes) -> str:
    counts: dict[str, int] = {}
    for _, command in notes:
        shown = command if len(command) <= COMMAND_WIDTH else command[:COMMAND_WIDTH - 3] + "..."
        counts[shown] = counts.get(shown, 0) + 1
    named = [f"'{command}'" + (f" ({count}×)" if count > 1 else "")
             for command, count in list(counts.items())[:COMMANDS_NAMED]]
    rest = len(counts) - len(named)
    return ", ".join(named) + (f" and {rest} other command{'s' if rest > 1 else ''}"
                               if rest > 0 else "")


def _count(notes) -> str:
    return f"{len(notes)} Python subprocess{'es' if len(notes) != 1 else ''}"


def warnings(notes) -> list[str]:
    """The warning lines for the notes (without the "memlyze: warning: " prefix)."""
    lines = []
    unfollowed = [note for note in notes if note[0] == "unfollowed"]
    if unfollowed:
        lines.append(f"{_count(unfollowed)} not profiled: {_commands(unfollowed)}; "
                     "record with --follow-subprocesses to profile them")
    others = [note for note in notes if note[0] != "unfollowed"]
    by_reason: dict[str, list] = {}
    for note in others:
        by_reason.setdefault(note[0], []).append(note)
    for reason, group in by_reason.items():
        why = REASONS.get(reason, reason)
        lines.append(f"{_count(group)} could not be followed and {'were' if len(group) > 1 else 'was'} "
                     f"not profiled ({why}): {_commands(group)}")
    return lines


def report_and_remove(path: str) -> None:
    """Writes the warnings for the notes in path on stderr, then removes it."""
    import sys

    notes = read(path)
    try:
        os.unlink(path)
    except OSError:
        pass
    lines = warnings(notes)
    if not lines:
        return
    try:
        for line in lines:
            sys.stderr.write(f"memlyze: warning: {' '.join(line.split())}\n")
        sys.stderr.flush()
    except Exception:
        pass
