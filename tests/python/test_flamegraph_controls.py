"""The flame graph page's view controls on real captures, in headless
Chromium: the thread selector, "hide import frames" and "hide interpreter
frames". Each view the page folds is compared with the tree memlyze builds
for the same choice (--thread, --native-frames), path by path, so the page
shows what the command line would have. Leaves test-output/flamegraph-*.png."""

from __future__ import annotations

import re

import pytest
from conftest import bytearray_bytes, check, memlyze, write_script
from flame_browser import browser_context, open_page, screenshot
from native_build import build_extension

from memlyze.reports.flame_data import build_flame_data

# Every drawn path (names, outermost first, joined by " > ") and its bytes.
PAGE_PATHS = """() => {
  const flame = window.memlyzeFlame, out = {};
  for (let i = 1; i < flame.state().nodeCount; i++) {
    const names = [];
    for (let node = i; node > 0; node = flame.frame(node).parent) names.push(flame.frame(node).function);
    const bytes = flame.frame(i).bytes;
    if (bytes > 0) { const key = names.reverse().join(" > "); out[key] = (out[key] || 0) + bytes; }
  }
  return out;
}"""


def data_paths(data, hidden=lambda function, file: False) -> dict:
    """PAGE_PATHS of flame data, leaving out the frames hidden says."""
    nodes, strings = data["nodes"], data["strings"]
    paths = {}
    for index in range(1, len(nodes["parent"])):
        if hidden(strings[nodes["function"][index]], strings[nodes["file"][index]]):
            continue
        names, node = [], index
        while node > 0:
            function, file = strings[nodes["function"][node]], strings[nodes["file"][node]]
            if not hidden(function, file):
                names.append(function)
            node = nodes["parent"][node]
        if nodes["bytes"][index]:
            key = " > ".join(reversed(names))
            paths[key] = paths.get(key, 0) + nodes["bytes"][index]
    return paths


@pytest.fixture(scope="module")
def browser():
    with browser_context() as context:
        yield context


def page_of(directory, capture, name, *options):
    check(memlyze("flamegraph", "-f", "-o", directory / name, *options, capture, cwd=directory))
    return directory / name


THREADS = """
import threading
import heavy_module  # allocates while it is imported

KEEP = []


def worker():
    KEEP.append(bytearray(20_000_000))  # WORKER


def main_work():
    KEEP.append(bytearray(30_000_000))  # MAIN


thread = threading.Thread(target=worker, name="worker")
thread.start()
thread.join()
main_work()
"""
HEAVY_MODULE = """
TABLE = bytearray(8_000_000)  # IMPORTED
"""


@pytest.fixture(scope="module")
def threads_capture(tmp_path_factory):
    directory = tmp_path_factory.mktemp("flame_controls")
    write_script(directory, "heavy_module.py", HEAVY_MODULE)
    script = write_script(directory, "threads.py", THREADS)
    capture = directory / "threads.mlyze"
    check(memlyze("run", "-o", capture, script, cwd=directory))
    return directory, capture


def test_thread_selector_shows_one_thread_or_all(browser, threads_capture):
    directory, capture = threads_capture
    loaded = open_page(browser, page_of(directory, capture, "threads.html"))
    page = loaded.page
    try:
        merged = build_flame_data(capture, progress=None)
        state = page.evaluate("memlyzeFlame.state()")
        assert state["controls"]["thread"] == "all"
        assert state["totalBytes"] == merged["meta"]["total_bytes"]
        assert page.evaluate(PAGE_PATHS) == data_paths(merged)
        threads = state["controls"]["threads"]
        worker = next(thread for thread in threads if "worker" in thread["name"])
        # choosing the worker in the selector, as a person would
        label = next(text for text in page.locator("#thread-select option").all_text_contents()
                     if text.startswith(worker["name"]))
        page.select_option("#thread-select", label=label)
        state = page.evaluate("memlyzeFlame.state()")
        worker_bytes = bytearray_bytes(20_000_000)
        assert worker_bytes <= state["totalBytes"] < worker_bytes + 200_000, state["totalBytes"]
        only_worker = build_flame_data(capture, thread="worker", progress=None)
        assert state["totalBytes"] == only_worker["meta"]["total_bytes"]
        assert page.evaluate(PAGE_PATHS) == data_paths(only_worker)
        assert page.evaluate("memlyzeFlame.findNodes('main_work')") == []
        assert "worker" in page.inner_text("#selection-label")
        # one subtree per thread: the root's children are the threads
        page.select_option("#thread-select", value="split")
        split = build_flame_data(capture, split_threads=True, progress=None)
        assert page.evaluate(PAGE_PATHS) == data_paths(split)
        assert screenshot(page, "flamegraph-threads.png").stat().st_size > 10_000
        page.select_option("#thread-select", value="all")
        assert page.evaluate("memlyzeFlame.state().totalBytes") == merged["meta"]["total_bytes"]
        assert loaded.problems() == [], loaded.problems()
    finally:
        page.close()


def test_thread_selector_keeps_a_time_range(browser, threads_capture):
    """A range chosen on a --temporal page stays chosen when the thread
    changes: its figures become that thread's."""
    directory, capture = threads_capture
    loaded = open_page(browser, page_of(directory, capture, "temporal.html", "--temporal"))
    page = loaded.page
    try:
        assert page.evaluate("memlyzeFlame.state().range") is None
        everything = page.evaluate("memlyzeFlame.selectRange(0, 1e6)")
        assert everything["bytes"] >= bytearray_bytes(20_000_000) + bytearray_bytes(30_000_000)
        worker = next(thread["name"] for thread in page.evaluate("memlyzeFlame.state().controls.threads")
                      if "worker" in thread["name"])
        state = page.evaluate("(name) => memlyzeFlame.setThread(name) && memlyzeFlame.state()", worker)
        assert state["range"] is not None
        worker_bytes = bytearray_bytes(20_000_000)
        assert worker_bytes <= state["totalBytes"] < worker_bytes + 200_000, state["totalBytes"]
        assert page.evaluate("memlyzeFlame.findNodes('main_work')") == []
        assert page.evaluate("memlyzeFlame.findNodes('worker')") != []
        assert "worker" in page.inner_text("#selection-label")
        assert loaded.problems() == [], loaded.problems()
    finally:
        page.close()


def is_import_frame(function, file):
    """The page's rule: importlib's bootstrap modules and zipimport."""
    return re.fullmatch(r"<frozen (importlib\._bootstrap(_external)?|zipimport)>", file) is not None


def test_hide_import_frames(browser, threads_capture):
    directory, capture = threads_capture
    loaded = open_page(browser, page_of(directory, capture, "imports.html"))
    page = loaded.page
    try:
        data = build_flame_data(capture, progress=None)
        before = page.evaluate(PAGE_PATHS)
        imported = [path for path in before if path.endswith("<module> > <module>")]
        assert imported == [], imported  # the import machinery lies between them
        assert page.is_visible("#import-control")
        page.check("#hide-import")
        state = page.evaluate("memlyzeFlame.state()")
        assert state["controls"]["hideImport"] is True
        assert state["totalBytes"] == data["meta"]["total_bytes"]
        after = page.evaluate(PAGE_PATHS)
        assert after == data_paths(data, is_import_frame)
        assert not any("_find_and_load" in path for path in after)
        # the module's 8 MB now hang from the importing <module> directly
        assert after["<module> > <module>"] >= bytearray_bytes(8_000_000)
        for box in page.evaluate("memlyzeFlame.drawn()"):
            frame = page.evaluate("(i) => memlyzeFlame.frame(i)", box["node"])
            assert not frame["file"].startswith("<frozen importlib"), frame
        page.uncheck("#hide-import")
        assert page.evaluate(PAGE_PATHS) == before
        assert loaded.problems() == [], loaded.problems()
    finally:
        page.close()


NATIVE = """
import sys

sys.path.insert(0, sys.argv[1])
import native_allocations as native


def direct():
    native.allocate(3_000_001)  # DIRECT


direct()
"""


@pytest.fixture(scope="module")
def native_capture(tmp_path_factory):
    directory = tmp_path_factory.mktemp("flame_native")
    build_extension(directory)
    script = write_script(directory, "native_direct.py", NATIVE)
    capture = directory / "native.mlyze"
    check(memlyze("run", "--native", "-o", capture, script, directory, cwd=directory))
    return directory, capture


def leaf_paths(paths: dict) -> list[str]:
    return [path for path in paths if path.endswith("native_allocation_leaf")]


def test_marked_tree_folds_to_the_trimmed_tree(native_capture):
    _, capture = native_capture
    marked = build_flame_data(capture, progress=None, page_controls=True, native_frames="all")
    trimmed_nodes = set(marked["marks"]["trimmed"])
    assert trimmed_nodes
    # the marked tree without its marked nodes (and thread level) is the trimmed tree
    nodes, strings = marked["nodes"], marked["strings"]
    threads = set(marked["marks"]["thread"])
    folded = {}
    for index in range(1, len(nodes["parent"])):
        if index in trimmed_nodes or index in threads or not nodes["bytes"][index]:
            continue
        names, node = [], index
        while node > 0:
            if node not in trimmed_nodes and node not in threads:
                names.append(strings[nodes["function"][node]])
            node = nodes["parent"][node]
        key = " > ".join(reversed(names))
        folded[key] = folded.get(key, 0) + nodes["bytes"][index]
    assert folded == data_paths(build_flame_data(capture, progress=None, native_frames="trimmed"))
    everything = data_paths(build_flame_data(capture, progress=None, native_frames="all"))
    assert data_paths(marked, lambda function, file: function.startswith("thread ") and not file) \
        == everything


def test_interpreter_frames_toggle_on_a_native_capture(browser, native_capture):
    directory, capture = native_capture
    loaded = open_page(browser, page_of(directory, capture, "native.html"))
    page = loaded.page
    try:
        trimmed = data_paths(build_flame_data(capture, progress=None, native_frames="trimmed"))
        everything = data_paths(build_flame_data(capture, progress=None, native_frames="all"))
        assert page.is_checked("#hide-interpreter")  # trimmed, as the command line's default
        assert page.evaluate(PAGE_PATHS) == trimmed
        direct = [path for path in leaf_paths(trimmed) if "direct" in path]
        assert direct == ["<module> > direct > allocate > native_allocation_middle > "
                          "native_allocation_leaf"], direct
        page.uncheck("#hide-interpreter")
        shown = page.evaluate(PAGE_PATHS)
        assert shown == everything
        full_path = [path for path in leaf_paths(shown) if "direct" in path][0]
        assert "_start" in full_path and "Py_RunMain" in full_path, full_path
        assert screenshot(page, "flamegraph-native-all.png").stat().st_size > 10_000
        page.check("#hide-interpreter")
        assert page.evaluate(PAGE_PATHS) == trimmed
        assert loaded.problems() == [], loaded.problems()
    finally:
        page.close()
    # --native-frames all makes the page start with every frame shown
    loaded = open_page(browser, page_of(directory, capture, "native-all.html",
                                        "--native-frames", "all"))
    try:
        assert not loaded.page.is_checked("#hide-interpreter")
        assert loaded.page.evaluate(PAGE_PATHS) == everything
    finally:
        loaded.page.close()
