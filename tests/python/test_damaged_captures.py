"""Truncated captures are read as far as they go; damaged ones are an error."""

import shutil
import struct

import pytest

from capture_crafting import (HEADER_MAX_CHUNK_SIZE, HEADER_SAMPLE_RATE, KIND_EVENTS, OP_SAMPLING,
                              OP_TIME, aggregate_bomb, allocations, build_capture, chunk, events_chunk,
                              header, stack_definitions, tlv, varint, zstd_frame)
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


# --- hostile captures (capture_crafting.py): one-line refusals, bounded memory

def crafted(tmp_path, data: bytes):
    path = tmp_path / "crafted.mlyze"
    path.write_bytes(data)
    return path


def assert_refused(path, cwd, expected):
    for command in (["stats"], ["stats", "--json"]):
        result = memlyze(*command, path, cwd=cwd)
        assert_one_line_error(result)
        assert expected in result.stderr, result.stderr


def test_allocation_sizes_that_overflow_are_refused(tmp_path):
    """Two allocations of 2^63 bytes once gave a peak above the total, exit 0."""
    records = stack_definitions() + allocations(2**63, 2**63) + bytes([OP_TIME, 10])
    path = crafted(tmp_path, build_capture(header(), [events_chunk(records)]))
    assert_refused(path, tmp_path, "allocation size 9223372036854775808 is above the limit")
    records = stack_definitions() + allocations(2**48, 2**48) + bytes([OP_TIME, 10])
    stats = stats_json(crafted(tmp_path, build_capture(header(), [events_chunk(records)])), tmp_path)
    assert stats["total_bytes"] == 2**49 and stats["peak_bytes"] == 2**49


@pytest.mark.parametrize("rate", [1e-12, 3.6e-304, float("nan")])
def test_sample_rates_out_of_range_are_refused(tmp_path, rate):
    records = stack_definitions() + allocations(4096) + bytes([OP_TIME, 10])
    head = header(tlv(HEADER_SAMPLE_RATE, struct.pack("<d", rate)))
    path = crafted(tmp_path, build_capture(head, [events_chunk(records)]))
    assert_refused(path, tmp_path, "sample rate")


def test_sampling_records_out_of_range_are_refused(tmp_path):
    sampling = bytes([OP_SAMPLING]) + varint(2) + varint(10**12)
    records = stack_definitions() + sampling + allocations(4096) + bytes([OP_TIME, 10])
    path = crafted(tmp_path, build_capture(header(), [events_chunk(records)]))
    assert_refused(path, tmp_path, "sampling mode 2 with mean 1000000000000 is invalid")


def test_the_smallest_sample_rate_gives_intervals_holding_their_estimates(tmp_path):
    records = (stack_definitions() + allocations(2**40, 2**40, 2**40, 2**40) +
               bytes([OP_TIME, 10]))
    head = header(tlv(HEADER_SAMPLE_RATE, struct.pack("<d", 1e-9)))
    stats = stats_json(crafted(tmp_path, build_capture(head, [events_chunk(records)])), tmp_path)
    for key in ("total_bytes", "peak_bytes", "leaked_bytes"):
        low, high = stats[f"{key}_ci95"]
        assert low <= stats[key] <= high, (key, low, stats[key], high)
        assert stats[key] > 0


# Starts memlyze from a small launcher and reports its child's peak RSS: a
# child forked straight from the test process counts the test process's own
# RSS at the fork in its peak (pytest with pyarrow, dask and a kernel loaded:
# over 300 MiB on a free-threaded build, where subprocess does not vfork).
MEASURING_LAUNCHER = """
import os, resource, subprocess, sys
result = subprocess.run(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
if result.returncode < 0:
    os.kill(os.getpid(), -result.returncode)
sys.exit(result.returncode)
"""


def run_measured(args, cwd):
    """Runs memlyze ARGS; returns (process, seconds, max RSS in bytes) of that child."""
    import os
    import subprocess
    import sys
    import time

    from conftest import MEMLYZE, clean_env

    rss_file = os.path.join(str(cwd), "memlyze-child-rss.txt")
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-c", MEASURING_LAUNCHER, rss_file, *MEMLYZE,
                              *map(str, args)], cwd=cwd, env=clean_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child.stdout_text, child.stderr_text = child.communicate()
    elapsed = time.monotonic() - started
    with open(rss_file) as rss:
        peak_kib = int(rss.read())
    os.unlink(rss_file)
    return child, elapsed, peak_kib * 1024


def test_decompression_bomb_is_refused_quickly_in_bounded_memory(tmp_path):
    """60 aggregate chunks of 2 KiB, each 64 MiB of zeros claiming 9.5 million
    stacks (1.4 GB of tables): refused at the first, before allocating."""
    data = aggregate_bomb(60)
    assert len(data) < 200_000
    path = crafted(tmp_path, data)
    child, seconds, max_rss = run_measured(["stats", path], tmp_path)
    assert child.returncode != 0
    lines = child.stderr_text.splitlines()
    assert len(lines) == 1 and lines[0].startswith("memlyze: error: "), child.stderr_text
    assert "aggregate stacks, but only 2 stack ids exist" in lines[0]
    assert seconds < 10, seconds
    assert max_rss < 300 * 2**20, max_rss


def test_chunk_above_the_declared_maximum_is_refused_before_allocating(tmp_path):
    """Events chunks of 64 MiB of OP_STRING records (6 bytes of tables per 3 of
    chunk) in a capture whose header says no chunk exceeds 1 MiB."""
    size = 64 * 2**20 - 1  # 0x01 repeated: strings of one byte 0x01
    bomb = chunk(KIND_EVENTS, zstd_frame(b"", b"\x01", size), size)
    head = header(tlv(HEADER_MAX_CHUNK_SIZE, varint(2**20)))
    path = crafted(tmp_path, build_capture(head, [bomb] * 30))
    child, seconds, max_rss = run_measured(["stats", path], tmp_path)
    assert child.returncode != 0
    assert "exceeds the capture's maximum of 1048576" in child.stderr_text
    assert len(child.stderr_text.splitlines()) == 1, child.stderr_text
    assert seconds < 10 and max_rss < 300 * 2**20, (seconds, max_rss)


def test_definitions_beyond_what_the_file_can_hold_are_refused(tmp_path):
    """The same bomb in a header without HEADER_MAX_CHUNK_SIZE (64 MiB chunks
    allowed): 22 million strings a chunk once took 2.4 GB, then MemoryError."""
    size = 64 * 2**20 - 1
    bomb = chunk(KIND_EVENTS, zstd_frame(b"", b"\x01", size), size)
    path = crafted(tmp_path, build_capture(header(), [bomb] * 60))
    child, seconds, max_rss = run_measured(["stats", path], tmp_path)
    assert child.returncode != 0
    assert "too many for a file of" in child.stderr_text, child.stderr_text
    assert len(child.stderr_text.splitlines()) == 1, child.stderr_text
    assert seconds < 10 and max_rss < 300 * 2**20, (seconds, max_rss)


def test_tracker_memory_is_unknown_without_footer(capture, tmp_path):
    path, data, full = capture
    assert full["tracker_memory_bytes"] > 0
    _, _, footer_offset = layout(data)
    path.write_bytes(data[:footer_offset])
    stats = stats_json(path, tmp_path)
    assert stats["tracker_memory_bytes"] is None
    text = check(memlyze("stats", path, cwd=tmp_path)).stdout
    assert "Tracker memory:  unknown" in text
    for command in (["summary"], ["table"]):
        check(memlyze(*command, path, cwd=tmp_path))
