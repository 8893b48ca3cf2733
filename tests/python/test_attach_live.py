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
from test_attach import sizes_at

ROLLING_SIZE = 200_000
# The live view shows what is held now: blocks allocated before the attach
# are not the tracker's, so the target keeps replacing the blocks it holds.
ROLLING_SCRIPT = """
import os
import sys
import time

GO, STOP = sys.argv[1], sys.argv[2]


def allocate():
    held = [None] * 30
    count = 0
    while not os.path.exists(STOP):
        held[count % 30] = bytearray(200_000)  # ROLLING
        count += 1
        time.sleep(0.002)
    return held


print("waiting", flush=True)
while not os.path.exists(GO):
    time.sleep(0.01)
print("allocating", flush=True)
held = allocate()
print("done", all(block is not None for block in held), flush=True)
sys.exit(7)
"""


@pytest.fixture
def terminal():
    screen = Terminal(f"memlyze-attach-live-{time.monotonic_ns()}")
    yield screen
    screen.kill_server()


def test_attach_without_output_shows_the_live_view_and_quitting_detaches(tmp_path, terminal):
    target = Target(tmp_path, script=ROLLING_SCRIPT).start()
    try:
        threads_before = target.thread_count()
        target.go()
        command = (f"cd {shlex.quote(str(tmp_path))} && exec {shlex.quote(sys.executable)} "
                   f"-m memlyze attach {target.pid}")
        terminal.tmux("new-session", "-d", "-s", "view", "-x", "200", "-y", "50", command)
        terminal.tmux("set-option", "-t", "view", "remain-on-exit", "on")
        rolling = f"target.py:{line_of(target.script, 'ROLLING')}"
        screen = terminal.wait_for(
            "view", lambda text: any(rolling in line for line in table_lines(text)[:3]),
            what=f"the ROLLING line ({rolling}) among the top locations")
        assert f"pid {target.pid}" in screen or str(target.pid) in screen
        terminal.keys("view", "q")
        terminal.wait_until_dead("view")
        capture = tmp_path / f"memlyze-attach-{target.pid}.mlyze"
        deadline = time.monotonic() + 60
        while target.thread_count() != threads_before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert target.thread_count() == threads_before  # detached: our threads are gone
        assert not stats_json(capture, tmp_path).get("truncated")
        sizes = {size for size in sizes_at(capture, target.script, "ROLLING") if size > 1000}
        assert sizes == {ROLLING_SIZE + 1}
        status, output = target.finish()
        assert (status, output) == (EXIT_STATUS, OUTPUT)
    finally:
        target.kill()
