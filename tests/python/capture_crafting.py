"""Hand-made captures (docs/format.md) for tests of hostile input.

Python 3.11 has no zstd, so the frames are written by hand: raw blocks, and
RLE blocks (one byte repeated: 4 bytes of frame for each 128 KiB) for bombs.
"""

import struct
import zlib

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_BLOCK_MAX = 128 * 1024
MAX_CHUNK_SIZE = 64 * 1024 * 1024

KIND_EVENTS, KIND_FOOTER, KIND_AGGREGATE = 1, 2, 3
OP_STRING, OP_FRAME, OP_STACK, OP_TIME, OP_SAMPLING, OP_ALLOC = 0x01, 0x02, 0x03, 0x06, 0x0A, 0x10
HEADER_PID, HEADER_PYTHON_VERSION, HEADER_COMMAND, HEADER_FLAGS = 1, 2, 3, 5
HEADER_SAMPLE_RATE, HEADER_MAX_CHUNK_SIZE = 7, 12
HEADER_FLAG_AGGREGATE = 1 << 8
FOOTER_END_TIME_NS, FOOTER_CHUNK_OFFSETS, FOOTER_TRACKER_MEMORY_PEAK = 1, 6, 7


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def tlv(tag: int, value: bytes) -> bytes:
    return varint(tag) + varint(len(value)) + value


def _block(last: bool, kind: int, size: int) -> bytes:
    return struct.pack("<I", int(last) | kind << 1 | size << 3)[:3]


def _frame_header(content_size: int) -> bytes:
    # single segment, an 8-byte content size, no checksum
    return ZSTD_MAGIC + b"\xe0" + struct.pack("<Q", content_size)


def zstd_frame(payload: bytes, repeated: bytes = b"", repeat_count: int = 0) -> bytes:
    """One frame holding payload as raw blocks, then repeated (one byte)
    repeat_count times as RLE blocks."""
    frame = bytearray(_frame_header(len(payload) + repeat_count))
    pieces = [payload[start:start + ZSTD_BLOCK_MAX]
              for start in range(0, len(payload), ZSTD_BLOCK_MAX)] or [b""]
    runs = [min(ZSTD_BLOCK_MAX, repeat_count - start)
            for start in range(0, repeat_count, ZSTD_BLOCK_MAX)]
    for index, piece in enumerate(pieces):
        frame += _block(not runs and index == len(pieces) - 1, 0, len(piece)) + piece
    for index, run in enumerate(runs):
        frame += _block(index == len(runs) - 1, 1, run) + repeated
    return bytes(frame)


def chunk(kind: int, frame: bytes, size: int) -> bytes:
    return struct.pack("<BIII", kind, len(frame), size, zlib.crc32(frame)) + frame


def events_chunk(records: bytes) -> bytes:
    return chunk(KIND_EVENTS, zstd_frame(records), len(records))


def header(*extra_fields: bytes, flags: int = 0) -> bytes:
    fields = (tlv(HEADER_PID, varint(4242)) + tlv(HEADER_PYTHON_VERSION, b"3.11.7") +
              tlv(HEADER_COMMAND, b"python app.py") + tlv(HEADER_FLAGS, varint(flags)) +
              b"".join(extra_fields))
    return (b"MLYZ" + struct.pack("<HHI", 1, 0, len(fields)) + fields +
            struct.pack("<I", zlib.crc32(fields)))


def build_capture(head: bytes, chunks, closed: bool = True) -> bytes:
    """head, then the chunks; closed: a footer (tracker memory 4096 B,
    the index of the events chunks) and the trailer."""
    data = bytearray(head)
    offsets = []
    for each in chunks:
        if each[0] == KIND_EVENTS:
            offsets.append(len(data))
        data += each
    if not closed:
        return bytes(data)
    deltas = [offset - previous for previous, offset in zip([0] + offsets, offsets)]
    index = varint(len(offsets)) + b"".join(map(varint, deltas))
    fields = (tlv(FOOTER_END_TIME_NS, varint(10)) + tlv(FOOTER_TRACKER_MEMORY_PEAK, varint(4096)) +
              tlv(FOOTER_CHUNK_OFFSETS, index))
    footer_offset = len(data)
    data += chunk(KIND_FOOTER, zstd_frame(fields), len(fields))
    data += struct.pack("<Q", footer_offset) + b"MLYZEND\0"
    return bytes(data)


def stack_definitions() -> bytes:
    """String 1 "f", frame 1 (f, f, line 1), stack 1."""
    return (bytes([OP_STRING, 1]) + b"f" + bytes([OP_FRAME, 1, 1, 1, 0]) +
            bytes([OP_STACK, 0, 1]))


def allocations(*sizes: int) -> bytes:
    """malloc records of these sizes at 0x1000, 0x2000, ... with stack 1
    (each address 0x1000 past the previous: zigzag 0x2000)."""
    return b"".join(bytes([OP_ALLOC]) + varint(0x2000) + varint(size) + varint(1)
                    for size in sizes)


def aggregate_bomb(chunks: int) -> bytes:
    """A closed --aggregate capture whose chunks of 64 MiB of zeros (2 KiB
    compressed each) claim 9.5 million stacks each: 1.4 GB of tables."""
    stack_count = (MAX_CHUNK_SIZE - 13) // 7
    prefix = bytes(9) + varint(stack_count)
    assert len(prefix) == 13
    size = len(prefix) + 7 * stack_count
    bomb = chunk(KIND_AGGREGATE, zstd_frame(prefix, b"\0", size - len(prefix)), size)
    definitions = events_chunk(stack_definitions() + bytes([OP_TIME, 10]))
    return build_capture(header(flags=HEADER_FLAG_AGGREGATE), [definitions] + [bomb] * chunks)
