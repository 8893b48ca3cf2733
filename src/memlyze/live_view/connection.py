"""A viewer's connection to a live server on 127.0.0.1 (protocol.py).

``Connection.open(port)`` connects and greets, and raises ``LiveError``
with one line a user can act on when the port serves no live view, another
viewer is connected, or the versions differ. Then ``read_frame`` returns
frames and ``send`` (thread-safe) sends the viewer's."""

from __future__ import annotations

import select
import socket
import threading

from . import protocol

HOST = "127.0.0.1"  # the server listens nowhere else


class LiveError(Exception):
    """Why there is no live view to show, in one line."""


class ViewerBusy(LiveError):
    def __init__(self, pid: int, port: int):
        super().__init__(f"another viewer is connected to PID {pid} (port {port}); "
                         "only one viewer at a time")
        self.pid = pid


class ConnectionLost(Exception):
    """The connection dropped before the program said it ended."""


class Connection:
    def __init__(self, sock: socket.socket, port: int):
        self.socket = sock
        self.port = port
        self._buffer = bytearray()
        self._send_lock = threading.Lock()

    @classmethod
    def open(cls, port: int, timeout: float = 5.0):
        """Connects and greets; returns (connection, Hello, history points)."""
        try:
            sock = socket.create_connection((HOST, port), timeout=timeout)
        except ConnectionRefusedError:
            raise LiveError(f"nothing serves a live view on {HOST}:{port} (the program has "
                            "exited, or was not started with --live)") from None
        except OSError as error:
            raise LiveError(f"cannot connect to {HOST}:{port}: {error.strerror or error}") from None
        connection = cls(sock, port)
        try:
            hello, history = connection._greet()
        except BaseException:
            connection.close()
            raise
        return connection, hello, history

    def _not_live(self, why: str) -> LiveError:
        return LiveError(f"{HOST}:{self.port} is not a memlyze live view ({why})")

    def _greet(self):
        try:
            greeting = self._read_exactly(protocol.GREETING_SIZE)
        except socket.timeout:
            raise self._not_live("it sent no greeting") from None
        except (ConnectionLost, OSError):
            raise self._not_live("it closed the connection") from None
        try:
            version = protocol.parse_server_greeting(greeting)
        except protocol.ProtocolError:
            raise self._not_live("it answered something else") from None
        if version != protocol.VERSION:
            raise LiveError(f"the program on port {self.port} speaks live protocol version "
                            f"{version}, this memlyze speaks version {protocol.VERSION}: use "
                            "the same memlyze version for both")
        # A busy server says so at once, with its greeting: read that before
        # writing, so the refusal is not lost to a reset.
        ready, _, _ = select.select([self.socket], [], [], 0.2)
        if not ready:
            try:
                self.send(protocol.viewer_greeting())
            except OSError:
                raise self._not_live("it closed the connection") from None
        kind, payload = self._first_frame()
        if kind == protocol.BUSY:
            raise ViewerBusy(protocol.decode_busy(payload), self.port)
        if kind == protocol.ERROR:
            raise LiveError(protocol.decode_error(payload))
        if kind != protocol.HELLO:
            raise self._not_live(f"unexpected frame {kind}")
        hello = protocol.decode_hello(payload)
        kind, payload = self._first_frame()
        if kind != protocol.HISTORY:
            raise self._not_live(f"unexpected frame {kind}")
        return hello, protocol.decode_history(payload)

    def _first_frame(self):
        try:
            return self.read_frame()
        except socket.timeout:
            raise self._not_live("it sent nothing after its greeting") from None
        except (ConnectionLost, OSError):
            raise self._not_live("it closed the connection") from None
        except protocol.ProtocolError as error:
            raise self._not_live(str(error)) from None

    def _fill(self) -> None:
        data = self.socket.recv(1 << 20)
        if not data:
            raise ConnectionLost()
        self._buffer += data

    def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read_frame(self):
        """(type, payload) of the next frame. socket.timeout when none came in
        time (what was read stays buffered), ConnectionLost when the
        connection dropped, ProtocolError for bytes that are no frame."""
        while True:
            if len(self._buffer) >= 5:
                length = int.from_bytes(self._buffer[:4], "little")
                if not 1 <= length <= protocol.MAX_FRAME:
                    raise protocol.ProtocolError(f"a frame of {length} bytes")
                if len(self._buffer) >= 4 + length:
                    kind = self._buffer[4]
                    payload = bytes(self._buffer[5:4 + length])
                    del self._buffer[:4 + length]
                    return kind, payload
            self._fill()

    def set_timeout(self, seconds: float) -> None:
        self.socket.settimeout(seconds)

    def send(self, data: bytes) -> None:
        with self._send_lock:
            self.socket.sendall(data)

    def close(self) -> None:
        try:
            self.socket.close()
        except OSError:
            pass
