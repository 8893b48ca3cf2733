"""A program on a real terminal: tmux runs it in a detached session of its own
server (-L: never the user's), the tests send keys and read the screen.
Every wait polls the screen until the text appears (the machine may be
loaded): no fixed sleeps."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import time
import uuid

DONE = "PROGRAM EXITED WITH"


class TmuxScreen:
    def __init__(self, command: list[str], cwd, env: dict, width: int = 200, height: int = 50):
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed (scripts/test.sh installs it)")
        self.server = f"memlyze-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # The shell line prints the exit status, then waits, so that the
        # screen stays readable after the program ends.
        line = f"{shlex.join(command)}; echo {DONE} $?; sleep 600"
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), "-s", "test",
                  "-c", str(cwd), line, env=env)
        self.socket = self.tmux("display-message", "-p", "#{socket_path}").strip()

    def tmux(self, *arguments: str, env: dict | None = None) -> str:
        result = subprocess.run(["tmux", "-L", self.server, *arguments], env=env,
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(arguments)}: {result.stderr.strip()}")
        return result.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "test")

    def press(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "test", key)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "test", "-l", text)

    def wait_for(self, test, what: str, timeout: float = 90.0) -> str:
        """Polls the screen until test(screen) is true; returns that screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if test(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; the screen was:\n{screen}")

    def wait_text(self, *texts: str, timeout: float = 90.0) -> str:
        """Waits until every one of texts is on the screen."""
        return self.wait_for(lambda screen: all(text in screen for text in texts),
                             " and ".join(map(repr, texts)), timeout)

    def wait_gone(self, text: str, timeout: float = 90.0) -> str:
        return self.wait_for(lambda screen: text not in screen, f"{text!r} to go", timeout)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.server, "kill-server"], capture_output=True,
                       timeout=60)
        if self.socket:  # the server leaves its socket file behind
            with contextlib.suppress(OSError):
                os.unlink(self.socket)
