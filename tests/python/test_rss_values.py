"""memlyze.rss() and rss_peak(): exact values, growth, and fork."""

from __future__ import annotations

import mmap
import os

import memlyze
from memlyze import cpymemtrace

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def statm_rss() -> int:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * PAGE


def test_rss_equals_statm_within_a_page():
    for _ in range(5):
        before = statm_rss()
        value = memlyze.rss()
        after = statm_rss()
        assert min(before, after) - PAGE <= value <= max(before, after) + PAGE
    assert cpymemtrace.rss is memlyze.rss and cpymemtrace.rss_peak is memlyze.rss_peak


def touched_mapping(size: int) -> mmap.mmap:
    """size bytes of fresh pages, every one touched. A mapping of its own: an
    allocator (mimalloc on a free-threaded build) could serve a large block
    from pages it already holds resident, or that a forked child inherited."""
    buffer = mmap.mmap(-1, size)
    for offset in range(0, size, PAGE):
        buffer[offset] = 1
    return buffer


def test_rss_grows_by_the_touched_buffer_and_peak_follows():
    before = memlyze.rss()
    buffer = touched_mapping(100 * MIB)
    grown = memlyze.rss()
    assert 95 * MIB <= grown - before <= 110 * MIB, (before, grown)
    assert memlyze.rss_peak() >= grown
    buffer.close()
    assert memlyze.rss() < grown - 90 * MIB
    assert memlyze.rss_peak() >= grown  # the peak stays


def test_rss_in_a_forked_child_is_the_childs():
    parent_before = memlyze.rss()  # also opens the kept /proc/self/statm descriptor
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: touch 64 MiB that the parent does not have
        status = 1
        try:
            untouched = memlyze.rss()
            buffer = touched_mapping(64 * MIB)
            # After fork, file-backed pages fault back in as code runs: bracket.
            statm_rss()
            before, child_rss, after = statm_rss(), memlyze.rss(), statm_rss()
            os.write(writer, f"{untouched} {before} {child_rss} {after} {len(buffer)}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(writer)
    message = os.read(reader, 200).decode()
    os.close(reader)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    untouched, before, child_rss, after, _ = map(int, message.split())
    assert before - PAGE <= child_rss <= after + PAGE
    assert child_rss - untouched >= 60 * MIB  # the child's growth, not the parent's figure
    # The parent never grew by the child's 64 MiB. (Comparing the two
    # processes' figures directly depends on how many file-backed pages the
    # child had faulted back in, so compare the parent with itself.)
    assert memlyze.rss() - parent_before < 32 * MIB
