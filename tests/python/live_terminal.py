"""Driving `memlyze live` in a real terminal: a private tmux server, one
session per viewer (send keys, read the screen), for tests/python/test_live_view.py."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time

from conftest import clean_env


class Terminal:
    """A tmux server of its own (socket name), so tests never touch a user's."""

    def __init__(self, socket_name: str):
        self.socket_name = socket_name

    def tmux(self, *args, check=True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket_name, *args], capture_output=True,
                              text=True, env=clean_env(TERM="xterm-256color"), check=check,
                              timeout=60)

    def start_viewer(self, session: str, port: int) -> None:
        """`memlyze live PORT` as the session's process (exec: its pid is the pane's)."""
        command = f"exec {shlex.quote(sys.executable)} -m memlyze live {port}"
        self.tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", command)
        self.tmux("set-option", "-t", session, "remain-on-exit", "on")

    def screen(self, session: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", session).stdout

    def keys(self, session: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", session, *keys)

    def pane_pid(self, session: str) -> int:
        return int(self.tmux("display-message", "-p", "-t", session, "#{pane_pid}").stdout)

    def pane_dead(self, session: str) -> bool:
        """Whether the session's process has ended (remain-on-exit keeps the pane)."""
        return self.tmux("display-message", "-p", "-t", session,
                         "#{pane_dead}").stdout.strip() == "1"

    def wait_until_dead(self, session: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.pane_dead(session):
            if time.monotonic() > deadline:
                raise AssertionError(f"the process of {session} did not end in {timeout:g} s; "
                                     f"the screen:\n{self.screen(session)}")
            time.sleep(0.1)

    def wait_for(self, session: str, condition, timeout: float = 90.0, what: str = "") -> str:
        """Polls the screen until condition(screen) holds; returns that screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(session)
            if condition(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what or condition}; the screen:\n{screen}")

    def kill_session(self, session: str) -> None:
        self.tmux("kill-session", "-t", session, check=False)

    def kill_server(self) -> None:
        self.tmux("kill-server", check=False)


def table_lines(screen: str) -> list[str]:
    """The lines of the locations table, below its column titles."""
    lines = screen.splitlines()
    for index, line in enumerate(lines):
        if "function" in line and "location" in line and "blocks" in line:
            return [text for text in lines[index + 1:] if text.strip()]
    return []


def first_row_naming(screen: str, names) -> str | None:
    """Which of names the first table row that names one of them names."""
    for line in table_lines(screen):
        for name in names:
            if f" {name} " in f" {line} ":
                return name
    return None
