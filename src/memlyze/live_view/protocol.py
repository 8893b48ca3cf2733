"""The live view's wire protocol, viewer side (the server is
src/core/live/; live_protocol.h there is the reference, docs/live.md the
description): greetings, then frames of u32 length, u8 type and a payload of
little-endian integers and u32-length-prefixed UTF-8 strings."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SERVER_MAGIC = b"MLYZLIVE"
VIEWER_MAGIC = b"MLYZVIEW"
VERSION = 1
GREETING_SIZE = 10

HELLO, HISTORY, SNAPSHOT, BUSY, ERROR, END = 1, 2, 3, 4, 5, 6
SELECT, PING = 16, 17

# A server frame larger than this is not one of ours (a snapshot holds at
# most 600 locations with names of at most 512 bytes, and the threads).
MAX_FRAME = 64 * 1024 * 1024


class ProtocolError(Exception):
    """The bytes are not the live protocol (a wrong port, or a damaged stream)."""


def viewer_greeting(version: int = VERSION) -> bytes:
    return VIEWER_MAGIC + struct.pack("<H", version)


def frame(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack("<IB", len(payload) + 1, kind) + payload


def select_frame(thread_id: int) -> bytes:
    return frame(SELECT, struct.pack("<I", thread_id))


def ping_frame() -> bytes:
    return frame(PING)


def parse_server_greeting(data: bytes) -> int:
    """The server's protocol version; ProtocolError when data is no greeting."""
    if len(data) != GREETING_SIZE or data[:8] != SERVER_MAGIC:
        raise ProtocolError("not a memlyze live view")
    return struct.unpack_from("<H", data, 8)[0]


@dataclass
class Hello:
    pid: int
    interval_ms: int
    command: str
    python_version: str


@dataclass
class Thread:
    thread_id: int
    native_tid: int
    name: str
    live_bytes: int
    live_count: int


@dataclass
class Location:
    function: str
    file: str
    line: int
    own_bytes: int
    total_bytes: int
    own_count: int


@dataclass
class Snapshot:
    elapsed_ns: int
    heap_bytes: int
    heap_count: int
    peak_bytes: int
    rss_bytes: int
    peak_rss_bytes: int
    allocation_count: int
    selected_thread: int
    threads: list = field(default_factory=list)
    locations_known: int = 0
    locations: list = field(default_factory=list)


class _Reader:
    """Reads fields off a payload; ProtocolError when it runs short."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.offset = 0

    def take(self, layout: str):
        size = struct.calcsize(layout)
        if self.offset + size > len(self.payload):
            raise ProtocolError("a frame ends early")
        values = struct.unpack_from(layout, self.payload, self.offset)
        self.offset += size
        return values

    def number(self, layout: str) -> int:
        return self.take(layout)[0]

    def text(self) -> str:
        size = self.number("<I")
        if self.offset + size > len(self.payload):
            raise ProtocolError("a string runs past its frame")
        value = self.payload[self.offset:self.offset + size]
        self.offset += size
        return value.decode("utf-8", errors="replace")


def decode_hello(payload: bytes) -> Hello:
    reader = _Reader(payload)
    pid, interval = reader.take("<QI")
    return Hello(pid, interval, reader.text(), reader.text())


def decode_history(payload: bytes) -> list[tuple[int, int, int]]:
    """(elapsed ns, heap bytes, RSS bytes) points, oldest first."""
    reader = _Reader(payload)
    return [reader.take("<QQQ") for _ in range(reader.number("<I"))]


def decode_snapshot(payload: bytes) -> Snapshot:
    reader = _Reader(payload)
    snapshot = Snapshot(*reader.take("<QQQQQQQI"))
    for _ in range(reader.number("<I")):
        thread_id, native_tid = reader.take("<Ii")
        name = reader.text()
        snapshot.threads.append(Thread(thread_id, native_tid, name, *reader.take("<QQ")))
    snapshot.locations_known, shown = reader.take("<II")
    for _ in range(shown):
        function, file = reader.text(), reader.text()
        snapshot.locations.append(Location(function, file, *reader.take("<IQQQ")))
    return snapshot


def decode_busy(payload: bytes) -> int:
    return _Reader(payload).number("<Q")


def decode_error(payload: bytes) -> str:
    return _Reader(payload).text()
