"""memlyze attach PID without -o: the live view of the running process in a
real terminal (tmux), its capture under the default name, and quitting the
view detaches, leaving the process to go on and exit as its own."""

from __future__ import annotations

import shlex
import sys
import time

import pytest

from attach_target import EXIT_STATUS, OUTPUT, Target
from conftest import line_of, stats_json
from live_terminal import Terminal, table_lines
from test_attach import assert_blocks_recorded


@pytest.fixture
def terminal():
    screen = Terminal(f"memlyze-attach-live-{time.monotonic_ns()}")
    yield screen
    screen.kill_server()


def test_attach_without_output_shows_the_live_view_and_quitting_detaches(tmp_path, terminal):
    target = Target(tmp_path).start()
    try:
        threads_before = target.thread_count()
        target.go()
        command = (f"cd {shlex.quote(str(tmp_path))} && exec {shlex.quote(sys.executable)} "
                   f"-m memlyze attach {target.pid}")
        terminal.tmux("new-session", "-d", "-s", "view", "-x", "200", "-y", "50", command)
        terminal.tmux("set-option", "-t", "view", "remain-on-exit", "on")
        kept = f"target.py:{line_of(target.script, 'KEPT')}"
        screen = terminal.wait_for(
            "view", lambda text: any(kept in line for line in table_lines(text)[:3]),
            what=f"the KEPT line ({kept}) among the top locations")
        assert f"pid {target.pid}" in screen or str(target.pid) in screen
        terminal.keys("view", "q")
        terminal.wait_for("view", lambda text: "Pane is dead" in text or "exited" in text.lower(),
                          what="the viewer to end")
        capture = tmp_path / f"memlyze-attach-{target.pid}.mlyze"
        deadline = time.monotonic() + 60
        while target.thread_count() != threads_before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert target.thread_count() == threads_before  # detached: our threads are gone
        assert not stats_json(capture, tmp_path).get("truncated")
        assert_blocks_recorded(capture, target.script)
        status, output = target.finish()
        assert (status, output) == (EXIT_STATUS, OUTPUT)
    finally:
        target.kill()
