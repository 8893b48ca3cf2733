"""memlyze.tracemalloc: the standard tracemalloc API on memlyze's engine.

In the spirit of CPython's Lib/test/test_tracemalloc.py (the parts about the
public API), run in this process against memlyze.tracemalloc, plus a check
that the same workload gives the same top statistics under both modules.
"""

import os
import sys
import tracemalloc as standard

import pytest

from memlyze import tracemalloc
from conftest import check, python, write_script

EMPTY_STRING_SIZE = sys.getsizeof(b"")


def allocate_bytes(size):
    """Returns (a bytes object of about size bytes, the line allocating it)."""
    data = b"x" * (size - EMPTY_STRING_SIZE); line = sys._getframe().f_lineno  # noqa: E702
    return data, (__file__, line)


@pytest.fixture
def tracing():
    tracemalloc.start(10)
    yield
    tracemalloc.stop()


def test_reexports_the_standard_classes():
    for name in ("Snapshot", "Statistic", "StatisticDiff", "Filter", "DomainFilter", "Trace",
                 "Traceback", "Frame", "BaseFilter"):
        assert getattr(tracemalloc, name) is getattr(standard, name)
    public = ["start", "stop", "is_tracing", "clear_traces", "take_snapshot",
              "get_traced_memory", "reset_peak", "get_object_traceback",
              "get_traceback_limit", "get_tracemalloc_memory"]
    for name in public:
        assert hasattr(standard, name) and callable(getattr(tracemalloc, name)), name


def test_is_tracing_start_stop():
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        assert tracemalloc.is_tracing()
        tracemalloc.start(5)  # already tracing: nothing changes
        assert tracemalloc.get_traceback_limit() == 1
    finally:
        tracemalloc.stop()
    assert not tracemalloc.is_tracing()
    tracemalloc.stop()  # stopping twice is fine


def test_start_checks_nframe():
    for bad in (0, -1, 65536):
        with pytest.raises(ValueError):
            tracemalloc.start(bad)
    with pytest.raises(TypeError):
        tracemalloc.start("3")
    assert not tracemalloc.is_tracing()


def test_not_tracing_answers():
    assert tracemalloc.get_traced_memory() == (0, 0)
    assert tracemalloc.get_object_traceback(object()) is None
    tracemalloc.clear_traces()
    tracemalloc.reset_peak()
    with pytest.raises(RuntimeError, match="must be tracing"):
        tracemalloc.take_snapshot()


def test_get_object_traceback(tracing):
    obj, where = allocate_bytes(123_456)
    traceback = tracemalloc.get_object_traceback(obj)
    assert traceback is not None
    assert traceback[-1].filename == where[0] and traceback[-1].lineno == where[1]
    assert traceback[-2].filename == __file__  # the caller: this test
    assert len(traceback) <= 10


class Instance:
    pass


class Slotted:
    __slots__ = ("value",)


def test_get_object_traceback_of_gc_objects(tracing):
    # (no dicts, lists or tuples: CPython reuses those from free lists)
    made = [Instance(), Slotted(), set(range(9))]; line = sys._getframe().f_lineno  # noqa: E702
    for obj in made:
        traceback = tracemalloc.get_object_traceback(obj)
        assert traceback is not None, obj
        assert (traceback[-1].filename, traceback[-1].lineno) == (__file__, line)


def test_get_traceback_limit():
    for limit in (1, 3, 25):
        tracemalloc.start(limit)
        try:
            assert tracemalloc.get_traceback_limit() == limit

            def nested(depth):
                return nested(depth - 1) if depth else allocate_bytes(10_000)[0]

            obj = nested(40)
            traceback = tracemalloc.get_object_traceback(obj)
            assert len(traceback) == limit
            assert tracemalloc.take_snapshot().traceback_limit == limit
        finally:
            tracemalloc.stop()


def find_trace(traces, size):
    """The frames of the one trace of exactly size bytes."""
    found = [trace for trace in traces if trace[1] == size]
    assert len(found) == 1, found
    return found[0]


def test_get_traces(tracing):
    obj, where = allocate_bytes(654_321)
    snapshot = tracemalloc.take_snapshot()
    domain, size, frames, total = find_trace(snapshot.traces._traces, 654_321)
    assert domain == 0 and size == 654_321
    assert frames[0] == where  # most recent first
    assert len(frames) == min(total, 10)  # total_nframe: the frames the stack had
    trace = [trace for trace in snapshot.traces if trace.size == 654_321][0]
    assert trace.traceback[-1] == tracemalloc.Frame(where)
    del obj


def test_traces_of_other_threads(tracing):
    import threading

    made = []
    worker = threading.Thread(target=lambda: made.append(allocate_bytes(432_100)))
    worker.start()
    worker.join()
    traces = tracemalloc.take_snapshot().traces._traces
    assert find_trace(traces, 432_100)[2][0] == made[0][1]


def test_tracing_goes_on_in_a_forked_child(tracing):
    pid = os.fork()
    if pid == 0:  # child: report through the exit status only
        status = 1
        try:
            obj, where = allocate_bytes(222_222)
            traceback = tracemalloc.get_object_traceback(obj)
            if not tracemalloc.is_tracing():
                status = 2
            elif traceback is None or (traceback[-1].filename, traceback[-1].lineno) != where:
                status = 3
            else:
                status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert tracemalloc.is_tracing()  # the parent traces on too
    obj, where = allocate_bytes(111_111)
    assert tracemalloc.get_object_traceback(obj)[-1].lineno == where[1]


def test_get_traced_memory_and_peak(tracing):
    tracemalloc.clear_traces()
    obj, _ = allocate_bytes(5_000_000)
    current, peak = tracemalloc.get_traced_memory()
    assert 5_000_000 <= current <= peak
    del obj
    after_free, peak_after = tracemalloc.get_traced_memory()
    assert after_free <= current - 4_900_000
    assert peak_after >= peak

    tracemalloc.reset_peak()
    current, peak = tracemalloc.get_traced_memory()
    assert peak < 5_000_000 and current <= peak + 100_000
    obj, _ = allocate_bytes(2_000_000)
    del obj
    current, peak2 = tracemalloc.get_traced_memory()
    assert peak2 >= peak + 1_900_000
    assert peak2 < peak_after


def test_clear_traces(tracing):
    obj, _ = allocate_bytes(300_000)
    assert tracemalloc.get_object_traceback(obj) is not None
    tracemalloc.clear_traces()
    assert tracemalloc.get_object_traceback(obj) is None
    current, peak = tracemalloc.get_traced_memory()
    assert current < 300_000 and peak < 300_000
    traces = tracemalloc.take_snapshot().traces._traces
    assert not [trace for trace in traces if trace[1] == 300_000]


def growth_per_trace(module, count=50_000):
    """Bytes module's get_tracemalloc_memory() grows by per block traced,
    and what is left after clear_traces()."""
    module.start(1)
    try:
        before = module.get_tracemalloc_memory()
        kept = [bytes(100) + bytes([index % 256]) for index in range(count)]
        grown = module.get_tracemalloc_memory()
        del kept
        module.clear_traces()
        return (grown - before) / count, grown, module.get_tracemalloc_memory()
    finally:
        module.stop()


def test_get_tracemalloc_memory_grows_like_the_standard_modules():
    standard_growth, _, _ = growth_per_trace(standard)
    our_growth, grown, after_clear = growth_per_trace(tracemalloc)
    # The live table's block and address map entry per trace, tables that
    # double: of the order of the standard module's ~53 bytes per trace,
    # not the engine's event buffers (which are not traces).
    assert 16 <= our_growth <= 3 * standard_growth, (our_growth, standard_growth)
    assert after_clear < grown / 10  # clear_traces() gives the table back


def test_the_standard_modules_names_are_there():
    import types

    defined = {name for name in dir(standard) if not name.startswith("__")
               and not isinstance(getattr(standard, name), types.ModuleType)
               and getattr(getattr(standard, name), "__module__", "tracemalloc")
               in ("tracemalloc", "_tracemalloc")}
    assert {"_get_traces", "_get_object_traceback", "_Traces", "Snapshot"} <= defined
    assert sorted(name for name in defined if not hasattr(tracemalloc, name)) == []
    assert tracemalloc.linecache is standard.linecache


def test_private_functions(tracing):
    obj, where = allocate_bytes(345_678)
    frames = tracemalloc._get_object_traceback(obj)
    assert frames[0] == where  # most recent first, as the standard module gives them
    trace = find_trace(tracemalloc._get_traces(), 345_678)
    assert trace[2][0] == where
    tracemalloc.stop()
    assert tracemalloc._get_traces() == [] and tracemalloc._get_object_traceback(obj) is None


def stack_depth():
    """The number of Python frames of the caller's stack."""
    frame, depth = sys._getframe(1), 0
    while frame:
        frame, depth = frame.f_back, depth + 1
    return depth


def deep_block(levels, size):
    """(a bytes object of size bytes made levels calls down, the number of
    frames on the stack where it was made)."""
    if levels:
        return deep_block(levels - 1, size)
    return b"x" * (size - EMPTY_STRING_SIZE), stack_depth()


def test_total_nframe_counts_the_frames_of_a_cut_stack():
    tracemalloc.start(3)
    try:
        obj, depth = deep_block(25, 456_789)
        trace = find_trace(tracemalloc._get_traces(), 456_789)
        assert len(trace[2]) == 3 and trace[3] == depth > 25
        snapshot_trace = [trace for trace in tracemalloc.take_snapshot().traces
                          if trace.size == 456_789][0]
        assert snapshot_trace.traceback.total_nframe == depth
    finally:
        tracemalloc.stop()
    tracemalloc.start(depth + 5)  # the whole stack kept: total_nframe is its length
    try:
        obj, depth = deep_block(5, 456_789)
        trace = find_trace(tracemalloc._get_traces(), 456_789)
        assert len(trace[2]) == trace[3] == depth
    finally:
        tracemalloc.stop()


def last_line(obj):
    """(filename, lineno) of the most recent frame of obj's traceback."""
    frame = tracemalloc.get_object_traceback(obj)[-1]
    return frame.filename, frame.lineno


def test_an_object_reused_from_a_free_list(tracing):
    import gc

    # From 3.13 on PyRefTracer reports a reuse, as tracemalloc sees it;
    # before, nothing does and the block keeps its first stack (README).
    reuse_seen = sys.version_info >= (3, 13)
    gc.collect()  # empties the list free list
    first = []; first_line = sys._getframe().f_lineno  # noqa: E702
    first = None  # its block goes to the free list, not back to the allocator
    again = []; again_line = sys._getframe().f_lineno  # noqa: E702
    # (nothing was allocated between: the reused block is the one allocated last)
    assert last_line(again) == (__file__, again_line if reuse_seen else first_line)

    address = id(again)  # (an allocation between)
    again = None
    third = []; third_line = sys._getframe().f_lineno  # noqa: E702
    assert id(third) == address  # CPython did reuse it
    assert last_line(third) == (__file__, third_line if reuse_seen else first_line)


def test_snapshot_statistics_compare_filter_dump_load(tracing, tmp_path):
    first = tracemalloc.take_snapshot()
    obj, where = allocate_bytes(777_777)
    second = tracemalloc.take_snapshot()

    by_line = second.statistics("lineno")
    top = [stat for stat in by_line if stat.traceback[-1].lineno == where[1]
           and stat.traceback[-1].filename == where[0]]
    assert top and top[0].size >= 777_777
    assert second.statistics("filename", cumulative=True)
    assert second.statistics("traceback")[0].size >= 777_777

    differences = second.compare_to(first, "lineno")
    grown = [diff for diff in differences if diff.traceback[-1].lineno == where[1]]
    assert grown and grown[0].size_diff >= 777_777

    only_here = second.filter_traces([tracemalloc.Filter(True, __file__)])
    assert all(trace.traceback[-1].filename == __file__ for trace in only_here.traces)
    assert 777_777 in [trace.size for trace in only_here.traces]
    without = second.filter_traces([tracemalloc.Filter(False, __file__, where[1])])
    assert 777_777 not in [trace.size for trace in without.traces]

    path = tmp_path / "snapshot.pickle"
    second.dump(str(path))
    loaded = tracemalloc.Snapshot.load(str(path))
    assert loaded.traceback_limit == second.traceback_limit
    assert loaded.statistics("lineno")[:5] == second.statistics("lineno")[:5]
    del obj


def test_another_recording_is_refused(tmp_path):
    import memlyze

    with memlyze.Tracker(tmp_path / "out.mlyze"):
        with pytest.raises(RuntimeError, match="already running"):
            tracemalloc.start()
    tracemalloc.start()
    try:
        with pytest.raises(Exception, match="already running"):
            memlyze.Tracker(tmp_path / "other.mlyze").start()
    finally:
        tracemalloc.stop()


def test_sample_interval_is_checked():
    with pytest.raises(ValueError):
        tracemalloc.start(1, sample_interval=0)
    with pytest.raises(TypeError):
        tracemalloc.start(1, sample_interval="big")
    assert not tracemalloc.is_tracing()


def test_sample_interval_scales_sampled_blocks():
    tracemalloc.start(3, sample_interval=128 * 1024)
    try:
        blocks = [bytearray(2048) for _ in range(50_000)]
        line = sys._getframe().f_lineno - 1
        snapshot = tracemalloc.take_snapshot()
        here = [stat for stat in snapshot.statistics("lineno")
                if (stat.traceback[-1].filename, stat.traceback[-1].lineno) == (__file__, line)]
        assert here and here[0].count < 50_000 // 10  # only samples are kept
        expected = 50_000 * 2048
        assert 0.7 * expected <= here[0].size <= 1.3 * expected, here[0]
        current, peak = tracemalloc.get_traced_memory()
        assert 0.7 * expected <= current <= peak
        del blocks
    finally:
        tracemalloc.stop()


COMPARISON = r'''
import json
import sys
import tracemalloc as standard
from memlyze import tracemalloc as ours

def many_lists():
    return [list(range(50)) for _ in range(4000)]

def many_dicts():
    return [{"key": index, "other": str(index)} for index in range(3000)]

def big_bytes():
    return [bytes(100_000 + index) for index in range(30)]

def small_bytes():
    return [b"%d" % index * 20 for index in range(20000)]

def workload():
    return [many_lists(), many_dicts(), big_bytes(), small_bytes()]

def top(module):
    module.start(1)
    kept = workload()
    snapshot = module.take_snapshot()
    module.stop()
    here = snapshot.filter_traces([module.Filter(True, __file__)])
    return [(stat.traceback[0].lineno, stat.size) for stat in here.statistics("lineno")[:4]]

order = sys.argv[1:]
# The first run of the workload in a process allocates ~12 KB more at the
# dict line (caches CPython fills once), whichever module measures it: warm
# up, so that both measured runs see the same program.
workload()
results = {name: top(standard if name == "standard" else ours) for name in order}
print(json.dumps(results))
'''


@pytest.mark.parametrize("order", [["standard", "memlyze"], ["memlyze", "standard"]])
def test_same_top_statistics_as_standard_tracemalloc(tmp_path, order):
    import json

    script = write_script(tmp_path, "compare.py", COMPARISON)
    results = json.loads(check(python(script, *order, cwd=tmp_path)).stdout)
    standard_top, our_top = results["standard"], results["memlyze"]
    assert [line for line, _ in our_top] == [line for line, _ in standard_top]
    for (_, our_size), (_, standard_size) in zip(our_top, standard_top):
        assert abs(our_size - standard_size) <= 0.01 * standard_size, (our_top, standard_top)
