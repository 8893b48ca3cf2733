"""One request to a running process, as attach and detach send it: check
the process, write the request, inject, wait for the answer."""

from __future__ import annotations

import sys

from . import AttachError, exchange, injectors, ptrace_permission, target_process
from .session import PROTOCOL_VERSION

# How long gdb may take to attach, load libc's and libpython's symbols and
# detach, on a loaded machine.
GDB_SECONDS = 120.0


class Prepared:
    """A process that passed every check, and the injector that reaches it."""

    def __init__(self, target: target_process.TargetProcess, injector: injectors.Injector):
        self.target = target
        self.injector = injector

    @property
    def pid(self) -> int:
        return self.target.pid


def prepare(pid: int) -> Prepared:
    """Checks, in the order a user can act on, that PID can take a request."""
    target = target_process.inspect(pid)
    target_process.check_same_python(target)
    ptrace_permission.check(pid, target.status)
    injector = injectors.injector_for(sys.version_info[:2])
    injector.check_available()
    return Prepared(target, injector)


def request_fields(action: str, **fields) -> dict:
    return {"version": PROTOCOL_VERSION, "action": action, "python": target_process.this_build(),
            "executable": sys.executable, **fields}


def _owner(target: target_process.TargetProcess) -> tuple[int, int]:
    def first(name: str) -> int:
        values = target.status.get(name, "").split()
        return int(values[1]) if len(values) > 1 else -1  # the effective id

    return first("Uid"), first("Gid")


def send(prepared: Prepared, fields: dict, wait_seconds: float
         ) -> tuple[exchange.Exchange, str, str]:
    """Sends the request and waits for the answer. Returns the exchange
    (the caller removes it: a later answer may come there) and the answer.
    Raises AttachError when there is none within wait_seconds."""
    uid, gid = _owner(prepared.target)
    channel = exchange.Exchange(uid, gid)
    try:
        channel.write_request(fields)
        run_file = channel.write_run_file()
        prepared.injector.run_file(prepared.pid, run_file, GDB_SECONDS)
        answer = _wait_for_answer(channel, prepared.pid, wait_seconds)
    except BaseException:
        channel.remove()
        raise
    return channel, answer[0], answer[1]


def _wait_for_answer(channel: exchange.Exchange, pid: int, wait_seconds: float
                     ) -> tuple[str, str]:
    try:
        answer = channel.wait(exchange.STATUS, pid, wait_seconds)
        if answer is None and not channel.cancel():
            # Taken just now: the answer is on its way.
            answer = channel.wait(exchange.STATUS, pid, max(30.0, wait_seconds))
    except exchange.ProcessEnded:
        raise AttachError(f"process {pid} ended before it ran memlyze's request") from None
    if answer is None:
        raise AttachError(
            f"process {pid} ran no Python code for {wait_seconds:g} s, so memlyze's request "
            "was withdrawn (its main thread may be blocked in one long call; --wait gives it "
            "longer)")
    return answer
