"""The Python subprocesses a recording did not profile, named at its end.

The top recorded process chooses a notes file (in the temporary folder, so
that a glob of the captures never meets it; created by the first note) and
passes its path to its descendants in the recording options. A line is appended, with one
``write``, for each Python program that will not record: by the exec hook
of any recorded process (binding/hooks/exec_watch.c: not followed, -I, -E,
-S, an environment without the hook), by its audit hook for os.posix_spawn
(SpawnWatch), and by a followed interpreter that cannot load memlyze. At its end the top process reads the file, writes one
``memlyze: warning:`` line per kind on its stderr and removes the file.

A line is ``REASON<TAB>COMMAND``.
"""

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


def create() -> str:
    """A path for the notes. The file is created by the first note (so a
    recording that ends without stopping, killed or exec'd, leaves nothing
    behind unless a subprocess was missed); the random part keeps it
    private."""
    folder = os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(folder, f"memlyze-{os.getpid()}-{os.urandom(8).hex()}.notes")


def append(path: str | None, reason: str, command: str) -> None:
    """Adds one note (from Python: an interpreter that could not record)."""
    if not path:
        return
    line = f"{reason}\t{' '.join(command.split())}\n".encode(errors="replace")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
                             | os.O_NOFOLLOW, 0o600)
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


# --- programs started with posix_spawn ---------------------------------------
#
# glibc's posix_spawn execs inside the C library, out of reach of the exec
# hook (binding/hooks/exec_watch.c), and CPython 3.13's subprocess uses it by
# default; os.posix_spawn raises an audit event instead. The same checks as
# exec_watch.c, in Python.

def _is_python_name(path) -> bool:
    name = os.path.basename(os.fsdecode(path))
    if not name.startswith("python"):
        return False
    rest = name[6:].lstrip("0123456789.")
    return rest in ("", "d", "m", "u", "t")


def _hook_disabling_option(arguments) -> str:
    """The first of I, E, S in a python command's options, or ""."""
    index = 1
    while index < len(arguments):
        token = os.fsdecode(arguments[index])
        if not token.startswith("-") or token in ("-", "--"):
            return ""
        if not token.startswith("--"):
            for position, letter in enumerate(token[1:], start=1):
                if letter in "IES":
                    return letter
                if letter in "cm":
                    return ""
                if letter in "WX":
                    if position == len(token) - 1:
                        index += 1
                    break
        index += 1
    return ""


def spawn_reason(follow: bool, path, arguments, environment, bootstrap_dir: str,
                 executable: str) -> str | None:
    """The note's reason for a program about to be spawned, or None when it
    is not a Python or will record."""
    if not (_is_python_name(path) or os.fsdecode(path) == executable):
        return None
    if not follow:
        return "unfollowed"
    letter = _hook_disabling_option(list(arguments or ()))
    if letter:
        return f"option-{letter}"
    environment = environment if environment is not None else os.environ
    get = environment.get
    pythonpath = os.fsdecode(get("PYTHONPATH") or get(b"PYTHONPATH", b"") or "")
    has_config = get("MEMLYZE_RECORD") is not None or get(b"MEMLYZE_RECORD") is not None
    if has_config and (pythonpath == bootstrap_dir
                       or pythonpath.startswith(bootstrap_dir + os.pathsep)):
        return None
    return "environment"


class SpawnWatch:
    """An audit hook noting Pythons started with os.posix_spawn[p]. Audit
    hooks cannot be removed: it stays, doing nothing while no watch is set."""

    installed = False
    current = None  # (notes path, follow, bootstrap dir, executable) or None

    @classmethod
    def set(cls, notes_path, follow, bootstrap_dir, executable) -> None:
        cls.current = (notes_path, follow, bootstrap_dir, executable) if notes_path else None
        if cls.current and not cls.installed:
            import sys

            sys.addaudithook(cls._audit)
            cls.installed = True

    @classmethod
    def _audit(cls, event, arguments) -> None:
        if event != "os.posix_spawn" or cls.current is None:
            return
        notes_path, follow, bootstrap_dir, executable = cls.current
        try:
            path, argv, environment = arguments[:3]
            reason = spawn_reason(follow, path, argv, environment, bootstrap_dir, executable)
            if reason:
                append(notes_path, reason, " ".join(os.fsdecode(word) for word in argv))
        except Exception:
            pass  # never disturb the program's spawn
