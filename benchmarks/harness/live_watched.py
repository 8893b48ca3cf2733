"""python live_watched.py CAPTURE SCRIPT [ARGS...]: runs `memlyze run --live
PORT -o CAPTURE SCRIPT ARGS` with a headless viewer connected for the whole
run (the live view's cost when watched: the server builds and sends a
snapshot every 500 ms). The viewer is a thread of this process: it decodes
each snapshot, as `memlyze live` does, and draws nothing; its CPU time
counts in the whole-process figures, not in the workload's (timed inside
the profiled process). stderr passes through; at the end one line says how
many snapshots the viewer read."""

import socket
import subprocess
import sys
import threading
import time

from memlyze.live_view import protocol
from memlyze.live_view.connection import Connection, ConnectionLost, LiveError


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def watch(port: int, process: subprocess.Popen, counts: dict) -> None:
    """Connects as soon as the server listens, then reads until the end."""
    while process.poll() is None:
        try:
            connection, _, _ = Connection.open(port)
            break
        except LiveError:
            time.sleep(0.01)
    else:
        return
    connection.set_timeout(1.0)
    last_ping = time.monotonic()
    try:
        while True:
            if time.monotonic() - last_ping > 1.0:
                connection.send(protocol.ping_frame())
                last_ping = time.monotonic()
            try:
                kind, payload = connection.read_frame()
            except socket.timeout:
                continue
            if kind == protocol.SNAPSHOT:
                protocol.decode_snapshot(payload)
                counts["snapshots"] += 1
            elif kind == protocol.END:
                return
    except (ConnectionLost, OSError):
        return
    finally:
        connection.close()


def main() -> int:
    capture, script, *arguments = sys.argv[1:]
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "memlyze", "run", "-f", "-o", capture,
                                "--live", str(port), script, *arguments])
    counts = {"snapshots": 0}
    viewer = threading.Thread(target=watch, args=(port, process, counts), daemon=True)
    viewer.start()
    status = process.wait()
    viewer.join(timeout=10)
    print(f"live watched: {counts['snapshots']} snapshots", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
