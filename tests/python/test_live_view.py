"""The live view (`memlyze run --live`, `memlyze live PORT`) end to end: a
real recorded workload, the real viewer in a real terminal (tmux).

The workload holds known blocks at known functions: big_few one block of
30 MB, small_many 20,000 blocks of 1000 bytes (20 MB), both called by
hold_all, which holds 1 MB itself; worker_body (in a thread named
worker-one) 12 MB, and on request later_growth 25 MB. A location is a line
of a function: by own bytes big_few comes first, by blocks small_many, by
total bytes the line of <module> that called hold_all (51 MB below it, no
other line as much); the worker thread alone shows worker_body first."""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import BYTEARRAY_ALLOCATIONS, MEMLYZE, assert_one_line_error, bytearray_bytes, \
    clean_env, memlyze, stats_json, write_script
from live_terminal import Terminal, first_row_naming

WORKLOAD = """
import sys
import threading
import time
from pathlib import Path

here = Path(__file__).parent
held = []


def big_few():
    held.append(bytearray(30_000_000))


def small_many():
    for _ in range(20_000):
        held.append(bytearray(1000))


def later_growth():
    held.append(bytearray(25_000_000))


def worker_body():
    held.append(bytearray(12_000_000))


def hold_all():
    held.append(bytearray(1_000_000))
    big_few()
    small_many()


hold_all()
worker = threading.Thread(target=worker_body, name="worker-one")
worker.start()
worker.join()
print("ready", flush=True)
grown = False
deadline = time.monotonic() + 300
while time.monotonic() < deadline and not (here / "stop").exists():
    if not grown and (here / "grow").exists():
        later_growth()
        (here / "grown").write_text("yes")
        grown = True
    time.sleep(0.05)
print("done", flush=True)
sys.exit(3)
"""

FUNCTIONS = ("big_few", "small_many", "worker_body", "later_growth", "hold_all", "<module>")
PORT_LINE = re.compile(r"memlyze: live view on 127\.0\.0\.1:(\d+); run: memlyze live (\d+)")


class Workload:
    def __init__(self, directory: Path, process: subprocess.Popen, port: int):
        self.directory = directory
        self.process = process
        self.port = port

    def stop(self):
        (self.directory / "stop").write_text("yes")
        stdout, stderr = self.process.communicate(timeout=120)
        return self.process.returncode, stdout, stderr


def _read_port(process: subprocess.Popen) -> tuple[int, list[str]]:
    lines = []
    while True:
        line = process.stderr.readline()
        if not line:
            raise AssertionError("the workload ended before printing its port:\n" + "".join(lines))
        lines.append(line)
        match = PORT_LINE.search(line)
        if match:
            assert match.group(1) == match.group(2)
            return int(match.group(1)), lines


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    directory = tmp_path_factory.mktemp("live")
    script = write_script(directory, "workload.py", WORKLOAD)
    process = subprocess.Popen(
        [*MEMLYZE, "run", "--live", "-o", "capture.mlyze", str(script)], cwd=directory,
        env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port, _ = _read_port(process)
        assert process.stdout.readline() == "ready\n"
        yield Workload(directory, process, port)
    finally:
        if process.poll() is None:
            (directory / "stop").write_text("yes")
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def terminal():
    terminal = Terminal(f"memlyze-live-test-{os.getpid()}")
    yield terminal
    terminal.kill_server()


def _wait_until_free(port: int) -> None:
    """Waits until the server has let a killed viewer's place go."""
    from memlyze.live_view.connection import Connection, ViewerBusy

    deadline = time.monotonic() + 30
    while True:
        try:
            connection, _, _ = Connection.open(port)
        except ViewerBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        connection.close()
        return


def _start(terminal: Terminal, session: str, port: int) -> str:
    _wait_until_free(port)
    terminal.start_viewer(session, port)
    return terminal.wait_for(session, lambda screen: first_row_naming(screen, FUNCTIONS),
                             what="the locations table")


def test_snapshot_figures_are_exact(workload):
    """What the server sends, read with the viewer's own connection: own
    bytes and blocks of each location as allocated, total bytes of the
    caller including its callees."""
    from memlyze.live_view import protocol
    from memlyze.live_view.connection import Connection

    _wait_until_free(workload.port)
    connection, hello, history = Connection.open(workload.port)
    try:
        assert hello.pid == workload.process.pid
        assert "workload.py" in hello.command
        assert hello.python_version == ".".join(map(str, sys.version_info[:3]))
        assert history, "the history holds the points since the start"
        connection.set_timeout(30)
        kind, payload = connection.read_frame()
        assert kind == protocol.SNAPSHOT
        snapshot = protocol.decode_snapshot(payload)
    finally:
        connection.close()
    # a location is a line of a function: hold_all and <module> have several
    ours = [location for location in snapshot.locations
            if Path(location.file).name == "workload.py"]

    def only(function):
        (location,) = [location for location in ours if location.function == function]
        return location

    assert only("big_few").own_bytes == only("big_few").total_bytes == bytearray_bytes(30_000_000)
    assert only("big_few").own_count == BYTEARRAY_ALLOCATIONS
    assert only("worker_body").own_bytes == bytearray_bytes(12_000_000)
    small = only("small_many")
    # the list of held blocks grows there too, and pymalloc maps an arena
    # or two (1 MiB each) for the bytearray objects: a few blocks more
    assert bytearray_bytes(1000, 20_000) <= small.own_bytes < bytearray_bytes(1000, 20_000) + 3_000_000
    assert 20_000 * BYTEARRAY_ALLOCATIONS <= small.own_count < 20_000 * BYTEARRAY_ALLOCATIONS + 100
    hold_all_own = sum(location.own_bytes for location in ours if location.function == "hold_all")
    assert hold_all_own == bytearray_bytes(1_000_000)
    # the line of <module> that called hold_all: everything below it, nothing itself
    caller = max((location for location in ours if location.function == "<module>"),
                 key=lambda location: location.total_bytes)
    assert caller.own_bytes == 0
    assert caller.total_bytes == hold_all_own + only("big_few").own_bytes + small.own_bytes
    assert snapshot.heap_bytes >= caller.total_bytes + only("worker_body").own_bytes
    names = {thread.name for thread in snapshot.threads}
    assert {"MainThread", "worker-one"} <= names, names


def test_top_location_sorting_and_threads(workload, terminal):
    session = "sorting"
    screen = _start(terminal, session, workload.port)
    assert first_row_naming(screen, FUNCTIONS) == "big_few", screen
    assert f"PID {workload.process.pid}" in screen
    for key, first in (("c", "small_many"), ("t", "<module>"), ("o", "big_few")):
        terminal.keys(session, key)
        terminal.wait_for(session, lambda screen: first_row_naming(screen, FUNCTIONS) == first,
                          timeout=30, what=f"{first} first after {key!r}")
    # ] steps from all to thread 1, then thread 2: the worker thread alone
    # shows its block first and none of the main thread's
    terminal.keys(session, "]")
    terminal.wait_for(session, lambda screen: "[1 MainThread" in screen
                      and first_row_naming(screen, FUNCTIONS) == "big_few"
                      and "worker_body" not in screen, timeout=30,
                      what="only the main thread's locations")
    terminal.keys(session, "]")
    terminal.wait_for(session, lambda screen: "[2 worker-one" in screen
                      and first_row_naming(screen, FUNCTIONS) == "worker_body"
                      and "big_few" not in screen, timeout=30,
                      what="only the worker's locations")
    terminal.kill_session(session)


def test_pause_freezes_the_display(workload, terminal):
    session = "pause"
    _start(terminal, session, workload.port)
    terminal.keys(session, "p")
    terminal.wait_for(session, lambda screen: "PAUSED" in screen, timeout=30, what="PAUSED")
    (workload.directory / "grow").write_text("yes")
    deadline = time.monotonic() + 60
    while not (workload.directory / "grown").exists():
        assert time.monotonic() < deadline, "the workload did not grow"
        time.sleep(0.05)
    time.sleep(3)  # six snapshot intervals: a display that is not frozen shows it
    assert "later_growth" not in terminal.screen(session)
    terminal.keys(session, "p")
    terminal.wait_for(session, lambda screen: "later_growth" in screen and "PAUSED" not in screen,
                      timeout=30, what="later_growth after resuming")
    terminal.kill_session(session)


def test_a_killed_viewer_is_replaced_by_the_next(workload, terminal):
    _start(terminal, "first", workload.port)
    os.kill(terminal.pane_pid("first"), signal.SIGKILL)
    terminal.kill_session("first")
    screen = _start(terminal, "second", workload.port)
    assert first_row_naming(screen, FUNCTIONS) in ("big_few", "later_growth")
    terminal.kill_session("second")


class _DroppingProxy:
    """A TCP relay to the live server; drop() cuts the current connection
    (as a network would) and keeps listening."""

    def __init__(self, upstream_port: int):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.upstream_port = upstream_port
        self.pairs = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.pairs.append((client, upstream))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drop(self):
        for pair in self.pairs:
            for end in pair:
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.pairs = []

    def close(self):
        self.drop()
        self.listener.close()


def test_the_viewer_reconnects_after_a_drop(workload, terminal):
    _wait_until_free(workload.port)
    proxy = _DroppingProxy(workload.port)
    session = "dropped"
    try:
        terminal.start_viewer(session, proxy.port)
        terminal.wait_for(session, lambda screen: first_row_naming(screen, FUNCTIONS),
                          what="the locations table through the proxy")
        proxy.drop()
        terminal.wait_for(session, lambda screen: "lost; reconnecting" in screen, timeout=30,
                          what="the drop shown")
        terminal.wait_for(session, lambda screen: "reconnected" in screen, timeout=60,
                          what="reconnected")
        terminal.wait_for(session, lambda screen: first_row_naming(screen, FUNCTIONS),
                          timeout=30, what="data again")
    finally:
        terminal.kill_session(session)
        proxy.close()


def test_a_second_viewer_is_refused(workload, terminal):
    session = "holder"
    _start(terminal, session, workload.port)
    result = memlyze("live", workload.port, cwd=workload.directory, timeout=60)
    assert_one_line_error(result)
    assert f"another viewer is connected to PID {workload.process.pid}" in result.stderr
    terminal.kill_session(session)


def test_served_on_127_0_0_1_only(workload):
    for address in ["127.0.0.2", *_other_addresses()]:
        with pytest.raises(OSError):
            socket.create_connection((address, workload.port), timeout=5).close()


def _other_addresses() -> list[str]:
    """This machine's IPv4 addresses outside 127/8."""
    try:
        output = subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                                timeout=10).stdout
    except OSError:
        return []
    return [address for address in output.split()
            if "." in address and not address.startswith("127.")]


def _serve_once(reply: bytes) -> tuple[int, threading.Thread]:
    """A plain TCP server on a free port that answers reply to one client."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        with listener:
            client, _ = listener.accept()
            with client:
                client.sendall(reply)
                time.sleep(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


@pytest.mark.parametrize("reply, message", [
    (b"HTTP/1.0 200 OK\r\n\r\nhello", "is not a memlyze live view"),
    (b"MLYZLIVE" + struct.pack("<H", 99), "speaks live protocol version 99"),
])
def test_a_port_that_is_not_a_live_view(tmp_path, reply, message):
    port, thread = _serve_once(reply)
    result = memlyze("live", port, cwd=tmp_path, timeout=60)
    thread.join(timeout=10)
    assert_one_line_error(result)
    assert message in result.stderr


def test_nothing_serving(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    result = memlyze("live", port, cwd=tmp_path, timeout=60)
    assert_one_line_error(result)
    assert "nothing serves a live view on 127.0.0.1" in result.stderr


def test_a_taken_port_is_refused_before_the_program_runs(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        script = write_script(tmp_path, "never.py", "print('ran')\n")
        result = memlyze("run", "--live", port, script, cwd=tmp_path, timeout=60)
    assert_one_line_error(result)
    assert f"cannot serve the live view on 127.0.0.1:{port}" in result.stderr
    assert "ran" not in result.stdout


def test_capture_output_and_status_unchanged(workload, terminal):
    """Last in this file: stops the workload, with a viewer watching, which
    says the program ended. --live with -o writes the usual capture; the
    program's output and exit status are its own."""
    _start(terminal, "ending", workload.port)
    status, stdout, stderr = workload.stop()
    terminal.wait_for("ending", lambda screen: f"the program ended (PID {workload.process.pid})"
                      in screen, timeout=60, what="the end said")
    terminal.kill_session("ending")
    assert status == 3, stderr
    assert stdout == "done\n"
    assert "Traceback" not in stderr
    stats = stats_json(workload.directory / "capture.mlyze", cwd=workload.directory)
    functions = {entry["function"] for entry in stats["top_by_peak"]}
    assert {"big_few", "small_many", "later_growth"} <= functions, stats["top_by_peak"]


TRACKER_PROGRAM = """
import sys
import memlyze

tracker = memlyze.Tracker(sys.argv[1], live_port=0)
tracker.start()
print(tracker.live_port, flush=True)
block = bytearray(5_000_000)
sys.stdin.readline()  # the test has looked
tracker.stop()
print("stopped", flush=True)
"""


def test_tracker_live_port(tmp_path):
    """Tracker(live_port=0) (what `memlyze attach` uses): serves on a free
    port, tells it in live_port and on stderr, ends the view at stop."""
    from memlyze.live_view import protocol
    from memlyze.live_view.connection import Connection

    script = write_script(tmp_path, "tracked.py", TRACKER_PROGRAM)
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path / "t.mlyze")],
                               cwd=tmp_path, env=clean_env(), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        connection, hello, _ = Connection.open(port)
        assert hello.pid == process.pid
        connection.set_timeout(30)
        kind, payload = connection.read_frame()
        assert kind == protocol.SNAPSHOT
        assert protocol.decode_snapshot(payload).heap_bytes >= 5_000_000
        process.stdin.write("\n")
        process.stdin.flush()
        kinds = set()
        while protocol.END not in kinds:
            kinds.add(connection.read_frame()[0])
        connection.close()
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert stdout == "stopped\n"
    assert f"memlyze: live view on 127.0.0.1:{port}; run: memlyze live {port}" in stderr


@pytest.mark.parametrize("port, error", [(70000, ValueError), (True, TypeError), ("1", TypeError)])
def test_tracker_live_port_checked(tmp_path, port, error):
    import memlyze

    with pytest.raises(error):
        memlyze.Tracker(tmp_path / "x.mlyze", live_port=port)


def test_live_without_a_port_takes_the_script(tmp_path):
    """`--live app.py`: app.py is the script, not --live's value; the capture
    goes to the default name, as without --live."""
    script = write_script(tmp_path, "app.py", "print('app ran')\n")
    result = memlyze("run", "--live", script, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "app ran\n"
    assert PORT_LINE.search(result.stderr), result.stderr
    assert list(tmp_path.glob("memlyze-app.py.*.mlyze"))


@pytest.mark.parametrize("argument", ["abc", "0", "70000", "²"])
def test_a_bad_port_argument(tmp_path, argument):
    result = memlyze("live", argument, cwd=tmp_path, timeout=60)
    assert_one_line_error(result)
    assert "port" in result.stderr
