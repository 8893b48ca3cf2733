"""Truncated captures are read as far as they go; damaged ones are an error."""

import shutil
import struct

import pytest

from conftest import assert_close, assert_one_line_error, check, memlyze, stats_json

HEADER_FIXED = 12  # "MLYZ", u16 version, u16 flags, u32 TLV size
CHUNK_HEADER = 13  # u8 kind, u32 compressed size, u32 size, u32 crc32
TRAILER = 16       # u64 footer offset, "MLYZEND\0"


def layout(data: bytes):
    """(end of the file header, [(offset, compressed size) of each chunk], footer offset)."""
    assert data[:4] == b"MLYZ"
    (tlv_size,) = struct.unpack_from("<I", data, 8)
    header_end = HEADER_FIXED + tlv_size + 4
    assert data[-8:] == b"MLYZEND\0", "the ground-truth capture was not closed"
    (footer_offset,) = struct.unpack_from("<Q", data, len(data) - TRAILER)
    chunks, offset = [], header_end
    while offset < footer_offset:
        (size,) = struct.unpack_from("<I", data, offset + 1)
        chunks.append((offset, size))
        offset += CHUNK_HEADER + size
    assert offset == footer_offset
    return header_end, chunks, footer_offset


@pytest.fixture
def capture(ground_truth, tmp_path):
    _, _, original, stats = ground_truth
    copy = tmp_path / "copy.mlyze"
    shutil.copyfile(original, copy)
    return copy, copy.read_bytes(), stats


def assert_truncated_but_readable(path, cwd):
    result = check(memlyze("stats", "--json", path, cwd=cwd))
    assert "capture is truncated" in result.stderr
    assert "Traceback" not in result.stderr
    stats = stats_json(path, cwd)
    assert stats["truncated"] is True
    text = check(memlyze("summary", path, cwd=cwd))
    assert "capture is truncated" in text.stderr
    return stats


def test_without_footer_every_event_is_still_read(capture, tmp_path):
    path, data, full = capture
    _, _, footer_offset = layout(data)
    path.write_bytes(data[:footer_offset])
    stats = assert_truncated_but_readable(path, tmp_path)
    assert stats["peak_bytes"] == full["peak_bytes"]
    assert stats["total_allocations"] == full["total_allocations"]
    assert stats["top_by_peak"][0]["function"] == "hold"


def test_cut_inside_a_chunk(capture, tmp_path):
    path, data, full = capture
    _, chunks, _ = layout(data)
    offset, size = chunks[-1]
    path.write_bytes(data[:offset + CHUNK_HEADER + size // 2])
    stats = assert_truncated_but_readable(path, tmp_path)
    assert stats["total_allocations"] <= full["total_allocations"]


def test_cut_in_the_middle_of_the_file(capture, tmp_path):
    path, data, _ = capture
    header_end, _, _ = layout(data)
    path.write_bytes(data[:max(header_end + 1, len(data) // 2)])
    assert_truncated_but_readable(path, tmp_path)


def test_bit_flip_in_a_chunk_is_an_error(capture, tmp_path):
    path, data, _ = capture
    _, chunks, _ = layout(data)
    offset, size = chunks[0]
    damaged = bytearray(data)
    damaged[offset + CHUNK_HEADER + size // 2] ^= 0x10
    path.write_bytes(bytes(damaged))
    for command in (["stats"], ["stats", "--json"], ["summary"]):
        assert_one_line_error(memlyze(*command, path, cwd=tmp_path))


def test_bit_flip_in_the_header_is_an_error(capture, tmp_path):
    path, data, _ = capture
    header_end, _, _ = layout(data)
    damaged = bytearray(data)
    damaged[(HEADER_FIXED + header_end) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))
    assert_one_line_error(memlyze("stats", path, cwd=tmp_path))


def test_bit_flip_in_the_footer_is_an_error(capture, tmp_path):
    path, data, _ = capture
    _, _, footer_offset = layout(data)
    damaged = bytearray(data)
    damaged[(footer_offset + CHUNK_HEADER + len(data) - TRAILER) // 2] ^= 0x04
    path.write_bytes(bytes(damaged))
    assert_one_line_error(memlyze("stats", path, cwd=tmp_path))


def test_newer_format_version_is_refused(capture, tmp_path):
    path, data, _ = capture
    newer = bytearray(data)
    struct.pack_into("<H", newer, 4, 99)
    path.write_bytes(bytes(newer))
    result = memlyze("stats", path, cwd=tmp_path)
    assert_one_line_error(result)
    assert "version" in result.stderr.lower()
    assert "99" in result.stderr


def test_truncated_capture_of_a_whole_run_matches(capture, tmp_path):
    """Cutting only the trailer loses nothing either."""
    path, data, full = capture
    path.write_bytes(data[:-TRAILER])
    stats = assert_truncated_but_readable(path, tmp_path)
    assert_close(stats["peak_bytes"], full["peak_bytes"], 0.0001)
