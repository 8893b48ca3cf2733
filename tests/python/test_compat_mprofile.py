"""memlyze.mprofile: mprofile's API (start(max_frames, sample_rate), ...) on
memlyze's engine, with sample_rate a mean number of bytes between samples."""

import sys

import pytest

from memlyze import mprofile


def allocate(size):
    data = bytearray(size); line = sys._getframe().f_lineno  # noqa: E702
    return data, line


@pytest.fixture
def profiling():
    mprofile.start()
    yield
    mprofile.stop()


def test_defaults_and_state():
    assert not mprofile.is_tracing()
    assert mprofile.get_traced_memory() == (0, 0)
    mprofile.start()
    try:
        assert mprofile.is_tracing()
        assert mprofile.get_traceback_limit() == 128
        assert mprofile.get_sample_rate() == 0
    finally:
        mprofile.stop()
    assert not mprofile.is_tracing()
    with pytest.raises(RuntimeError, match="must be tracing"):
        mprofile.take_snapshot()


def test_arguments_are_checked():
    with pytest.raises(ValueError):
        mprofile.start(max_frames=0)
    with pytest.raises(ValueError):
        mprofile.start(sample_rate=-1)
    with pytest.raises(TypeError):
        mprofile.start(sample_rate=1.5)
    assert not mprofile.is_tracing()


def test_snapshot_and_object_traceback(profiling):
    data, line = allocate(2_345_678)
    snapshot = mprofile.take_snapshot()
    assert snapshot.traceback_limit == 128
    top = snapshot.statistics("lineno")[0]
    assert (top.traceback[-1].filename, top.traceback[-1].lineno) == (__file__, line)
    assert top.size >= 2_345_678
    traceback = mprofile.get_object_traceback(data)
    assert traceback is not None and traceback[-1].lineno == line
    current, peak = mprofile.get_traced_memory()
    assert 2_345_678 <= current <= peak
    mprofile.clear_traces()
    assert mprofile.get_object_traceback(data) is None
    assert mprofile.get_tracemalloc_memory() > 0


def test_max_frames_limits_tracebacks():
    mprofile.start(max_frames=2)
    try:
        def deep(level):
            return deep(level - 1) if level else allocate(100_000)[0]

        data = deep(10)
        assert len(mprofile.get_object_traceback(data)) == 2
        assert mprofile.get_traceback_limit() == 2
    finally:
        mprofile.stop()


def test_sample_rate_estimates_bytes():
    mprofile.start(max_frames=4, sample_rate=64 * 1024)
    try:
        assert mprofile.get_sample_rate() == 64 * 1024
        blocks = [bytearray(4096) for _ in range(20_000)]
        line = sys._getframe().f_lineno - 1
        snapshot = mprofile.take_snapshot()
        here = [stat for stat in snapshot.statistics("lineno")
                if stat.traceback[-1].lineno == line and stat.traceback[-1].filename == __file__]
        assert here, "the 80 MB of blocks were never sampled"
        expected = 20_000 * 4096
        assert 0.7 * expected <= here[0].size <= 1.3 * expected, here[0]
        # far fewer traces than blocks: only samples are kept
        assert here[0].count < 5_000
        del blocks
    finally:
        mprofile.stop()


def test_one_recording_at_a_time():
    from memlyze import tracemalloc

    mprofile.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            tracemalloc.start()
    finally:
        mprofile.stop()
