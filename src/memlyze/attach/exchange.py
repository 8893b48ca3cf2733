"""The private directory through which ``memlyze attach``/``detach`` and the
target process talk.

The command writes ``request`` (what to do, in record_environment's
encoding) and ``run.py`` (the file an injector runs in the target); the
target takes the request by renaming it (so that a command that gave up
waiting can cancel it by the same rename, and exactly one of the two wins)
and answers in ``status``, and, when a recording stops by itself (its
duration is over, the process exits), in ``finished``. Answers are two
lines: a state word, then a one-line message.

The target side of this file is in target_entry.py and session.py (they
run inside the target and import nothing from here).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

from .._bootstrap import record_environment
from . import AttachError

REQUEST = "request"
TAKEN = "request.taken"
CANCELLED = "request.cancelled"
STATUS = "status"
FINISHED = "finished"
RUN_FILE = "run.py"
ENTRY_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "target_entry.py")
# Where memlyze is imported from in the target: the folder holding the package.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POLL_SECONDS = 0.005

# What the injector runs in the target's main thread, from a pending call:
# the entry in fresh globals, so that nothing is bound in the program's
# __main__, and nothing raised reaches the program (a pending call that
# fails would turn into a SystemError in whatever code it interrupted).
_RUN_SOURCE = """\
try:
    exec(compile(__import__("io").open_code({entry!r}).read(), {entry!r}, "exec"),
         {{"__name__": "__memlyze_attach__", "REQUEST_DIRECTORY": {directory!r},
          "PACKAGE_ROOT": {root!r}}})
except BaseException:
    pass
"""


class Exchange:
    """A fresh private directory for one request; remove() takes it away."""

    def __init__(self, owner_uid: int, owner_gid: int):
        self.directory = tempfile.mkdtemp(prefix="memlyze-attach-")
        if owner_uid != os.geteuid():
            # The target runs as another user (we are root): it must be able
            # to take the request and answer.
            try:
                os.chown(self.directory, owner_uid, owner_gid)
            except OSError as error:
                self.remove()
                raise AttachError(f"cannot hand the exchange directory to uid {owner_uid}, "
                                  f"the process's user: {error.strerror}") from None

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def write_request(self, fields: dict) -> None:
        self._write(REQUEST, record_environment.write_config(fields))

    def write_run_file(self) -> str:
        """The file an injector runs in the target; returns its path."""
        self._write(RUN_FILE, _RUN_SOURCE.format(entry=ENTRY_FILE, directory=self.directory,
                                                 root=PACKAGE_ROOT))
        return self.path(RUN_FILE)

    def _write(self, name: str, text: str) -> None:
        descriptor = os.open(self.path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with open(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)

    def answer(self, name: str) -> tuple[str, str] | None:
        """The (state, message) the target wrote into ``name``, if it has."""
        try:
            with open(self.path(name), encoding="utf-8", errors="replace") as handle:
                state, _, message = handle.read().partition("\n")
        except FileNotFoundError:
            return None
        return state.strip(), " ".join(message.split())

    def wait(self, name: str, pid: int, timeout: float) -> tuple[str, str] | None:
        """Waits for the answer ``name``: (state, message), or None after
        timeout seconds. Raises AttachError when the process ends first
        (after a last look for its answer)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.answer(name)
            if found is not None:
                return found
            if not process_alive(pid):
                found = self.answer(name)
                if found is not None:
                    return found
                raise ProcessEnded(pid)
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_SECONDS)

    def cancel(self) -> bool:
        """Withdraws the request; False when the target took it already."""
        try:
            os.rename(self.path(REQUEST), self.path(CANCELLED))
        except FileNotFoundError:
            return False
        return True

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "Exchange":
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()


class ProcessEnded(AttachError):
    def __init__(self, pid: int):
        super().__init__(f"process {pid} ended")
        self.pid = pid


def process_alive(pid: int) -> bool:
    """Whether PID still runs (a zombie has ended: it only waits for its parent)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rpartition(")")[2].split()[:1]
    except OSError:
        return False
    return state not in (["Z"], ["X"])
