"""--follow-subprocesses: passing the recording on to every Python process
started below a recorded one, and watching for those it will miss.

A followed process keeps memlyze's start-up hook in its environment (the
bootstrap folder first on PYTHONPATH, the options in MEMLYZE_RECORD, now
with ``parent_pid`` set to its own pid), so that any Python it starts,
directly, through exec, a shell or multiprocessing, records into
``<output>.<pid>`` (``<output>.<pid>.<n>`` when that exists: an exec keeps
the pid). Forked children are followed by the engine (follow_fork). The
environment is restored when tracking stops.
"""

import os
import sys

from . import record_environment, subprocess_notes


def child_capture_path(family_path: str) -> str:
    """Creates (exclusively) and returns this process's capture file:
    ``<family_path>.<pid>``, or ``.<pid>.<n>`` when taken. Raises OSError."""
    base = f"{family_path}.{os.getpid()}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    for number in range(1, 1000):
        path = base if number == 1 else f"{base}.{number}"
        try:
            os.close(os.open(path, flags, 0o644))
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{base}: every name up to {base}.999 exists")


class Following:
    """What a tracker does about subprocesses: with follow, pass the hook on;
    always (when notes_path is given), note the Pythons it execs that will
    not record. The owner (the top process) reports the notes at its end."""

    def __init__(self, *, follow: bool, family_path: str, options: dict,
                 notes_path: str | None, owns_notes: bool):
        self.follow = follow
        self.family_path = os.path.abspath(family_path)
        self.options = dict(options)
        self.notes_path = notes_path
        self.owner_pid = os.getpid() if owns_notes else None
        self.saved_environment = None

    def begin(self) -> None:
        if self.follow:
            self.saved_environment = (os.environ.get(record_environment.ENV_VAR),
                                      os.environ.get("PYTHONPATH"))
            self._export()
            os.register_at_fork(after_in_child=self._after_fork_in_child)
        if self.notes_path:
            from memlyze import _memlyze

            try:
                _memlyze.watch_exec(self.notes_path, self.follow, record_environment.BOOTSTRAP_DIR,
                                    sys.executable or "")
            except ValueError:
                pass  # a path too long to watch: the subprocesses are not named
            subprocess_notes.SpawnWatch.set(self.notes_path, self.follow,
                                            record_environment.BOOTSTRAP_DIR, sys.executable or "")

    def _export(self) -> None:
        pythonpath = os.environ.get("PYTHONPATH")
        if self.saved_environment is not None:
            pythonpath = self.saved_environment[1]
        entries = (pythonpath or "").split(os.pathsep) if pythonpath else []
        original = os.pathsep.join(entry for entry in entries
                                   if entry != record_environment.BOOTSTRAP_DIR) or None
        config = {
            "version": record_environment.CONFIG_VERSION,
            "path": self.family_path,
            "command": "",
            "pythonpath": original,
            "placeholder": "",
            **self.options,
            "follow_subprocesses": True,
            "follow_fork": True,
            "parent_pid": os.getpid(),
            "notes": self.notes_path or "",
        }
        os.environ[record_environment.ENV_VAR] = record_environment.write_config(config)
        os.environ["PYTHONPATH"] = record_environment.BOOTSTRAP_DIR + (
            os.pathsep + original if original else "")

    def _after_fork_in_child(self) -> None:
        # A forked child records (follow_fork): the Pythons it starts are its
        # children, not its parent's.
        if self.saved_environment is not None:  # None: tracking has stopped
            try:
                self._export()
            except Exception:
                pass

    def end(self) -> None:
        """At stop: the environment as it was, no more watching, and (in the
        top process) the warnings."""
        if self.saved_environment is not None:
            for name, value in zip((record_environment.ENV_VAR, "PYTHONPATH"),
                                   self.saved_environment):
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self.saved_environment = None
        if self.notes_path:
            from memlyze import _memlyze

            _memlyze.watch_exec(None)
            subprocess_notes.SpawnWatch.set(None, False, "", "")
            if self.owner_pid == os.getpid():
                subprocess_notes.report_and_remove(self.notes_path)
