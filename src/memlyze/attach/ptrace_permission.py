"""Whether this process may trace another, and which setting says no.

The kernel lets a process trace another (ptrace, what gdb does) when it has
CAP_SYS_PTRACE, or when both run as the same user and the target is
dumpable; Yama (kernel.yama.ptrace_scope) can narrow that further, and a
process has at most one tracer. Each refusal is named here by the setting
behind it, so that the user knows what to change.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from . import AttachError

CAP_SYS_PTRACE = 19
YAMA_SCOPE_FILE = "/proc/sys/kernel/yama/ptrace_scope"


def status_fields(pid: int | str) -> dict:
    """The fields of /proc/PID/status (PID may be 'self'); OSError when unreadable."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return fields


def has_capability(bit: int) -> bool:
    """Whether this process holds the capability (in its effective set)."""
    try:
        effective = int(status_fields("self").get("CapEff", "0"), 16)
    except (OSError, ValueError):
        return False
    return bool(effective >> bit & 1)


def yama_scope() -> int | None:
    """kernel.yama.ptrace_scope, or None when Yama is not in this kernel."""
    try:
        with open(YAMA_SCOPE_FILE, encoding="ascii") as scope:
            return int(scope.read().strip())
    except (OSError, ValueError):
        return None


def process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip()
    except OSError:
        return "?"


def _ids(fields: dict, name: str) -> set[int]:
    try:
        return {int(value) for value in fields.get(name, "").split()}
    except ValueError:
        return set()


def _uid_reason(pid: int, fields: dict) -> str | None:
    """Why a process without CAP_SYS_PTRACE may not trace this one, if it is
    another user's (every uid and gid of the target must be ours)."""
    uids, gids = _ids(fields, "Uid"), _ids(fields, "Gid")
    if uids <= {os.geteuid()} and gids <= {os.getegid()}:
        return None
    owner = min(uids - {os.geteuid()}, default=os.geteuid())
    return (f"ptrace refused: process {pid} runs as uid {owner} and memlyze as uid "
            f"{os.geteuid()} without CAP_SYS_PTRACE (run memlyze as that user, or as root)")


class Settings(NamedTuple):
    """What decides, besides the target, whether we may trace it."""

    capable: bool  # this process holds CAP_SYS_PTRACE
    yama_scope: int | None  # kernel.yama.ptrace_scope, None without Yama


def current_settings() -> Settings:
    return Settings(has_capability(CAP_SYS_PTRACE), yama_scope())


def certain_refusal(pid: int, fields: dict, settings: Settings) -> str | None:
    """The reason the kernel will refuse to let us trace PID, when it surely
    will; None when it may allow it. ``fields`` is the target's status."""
    capable, scope = settings
    tracer = int(fields.get("TracerPid", "0") or 0)
    if tracer and tracer != os.getpid():
        return (f"ptrace refused: process {pid} is already traced by process {tracer} "
                f"({process_name(tracer)}), and a process has one tracer at a time "
                "(a debugger or strace may be attached to it)")
    if scope == 3:
        return ("ptrace refused: kernel.yama.ptrace_scope is 3 on this machine, which lets "
                "no process attach to another (only a reboot lowers it)")
    if scope == 2 and not capable:
        return ("ptrace refused: kernel.yama.ptrace_scope is 2, which lets only processes "
                "with CAP_SYS_PTRACE attach, and memlyze runs without it (run it as root)")
    if not capable:
        return _uid_reason(pid, fields)
    return None


def refusal_reason(pid: int, debugger_message: str = "",
                   settings: Settings | None = None) -> str:
    """Why tracing PID was refused (by the kernel, as the debugger or a
    /proc read found): the setting that refuses it, or the debugger's words."""
    settings = settings or current_settings()
    try:
        fields = status_fields(pid)
    except OSError:
        fields = {}
    reason = certain_refusal(pid, fields, settings)
    if reason:
        return reason
    if settings.yama_scope == 1 and not settings.capable:
        return ("ptrace refused: kernel.yama.ptrace_scope is 1, which lets a process "
                "without CAP_SYS_PTRACE trace only its own descendants (run memlyze as "
                "root, or: sysctl kernel.yama.ptrace_scope=0)")
    said = " ".join(debugger_message.split())
    return (f"ptrace refused for process {pid}" + (f" ({said})" if said else "")
            + ": it may not be dumpable (a setuid program, or prctl PR_SET_DUMPABLE 0), "
            "or a security module (SELinux, AppArmor, a container's seccomp) forbids it")


def check(pid: int, fields: dict) -> None:
    """Raises AttachError when the kernel will surely refuse to let us trace PID."""
    reason = certain_refusal(pid, fields, current_settings())
    if reason:
        raise AttachError(reason)
