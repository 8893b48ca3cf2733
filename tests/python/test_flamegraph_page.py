"""The flame graph page in headless Chromium, on hand-made flame data (the
shape build_flame_data returns): drawing, zoom, search, chart, time ranges,
a 120,000-frame tree, and untrusted names. test_flamegraph_capture.py does the
same through `memlyze flamegraph` on real captures."""

from __future__ import annotations

import time

import flame_fixture
import pytest
from flame_browser import browser_context, frame_center, open_page, screenshot

from memlyze.reports import flamegraph_html

XSS_FUNCTION = "<img src=x onerror=alert(1)>"
XSS_FILE = "/tmp/</script><script>alert(2)</script>\"quoted\" 'single'.py"


@pytest.fixture(scope="module")
def browser():
    with browser_context() as context:
        yield context


def _page(browser, tmp_path, data, name="page.html"):
    path = tmp_path / name
    flamegraph_html.write(data, path)
    loaded = open_page(browser, path)
    return loaded


def test_small_page_draws_zooms_and_searches(browser, tmp_path):
    loaded = _page(browser, tmp_path, flame_fixture.small())
    page = loaded.page
    try:
        names = page.locator("#frame-list li").all_text_contents()
        assert names[0].startswith("<all>")
        assert any(name.startswith("decode \u2014 /app/image_cache.py:27") for name in names)
        # the header
        header = page.inner_text("#header")
        for text in ("python workload.py --size 3", "4242", "3.11.2", "66.5 MiB", "every allocation recorded"):
            assert text in header
        # search through the box, as a person would
        page.fill("#search", "decode")
        page.press("#search", "Enter")
        assert page.inner_text("#search-result").startswith("matched: 90.3% of 66.5 MiB")
        assert abs(page.evaluate("memlyzeFlame.state().matchedFraction") - 60 / 66.46) < 0.01
        assert page.evaluate("memlyzeFlame.search('/^read_|remember/')") == pytest.approx(6.4 / 66.46, abs=0.01)
        assert page.evaluate("memlyzeFlame.search('image_cache.py')") == pytest.approx(1 - 0.08 / 66.46, abs=0.01)
        page.evaluate("memlyzeFlame.search('')")
        # a real click on "load" zooms into it
        load = page.evaluate("memlyzeFlame.findNodes('load')[0]")
        x, y = frame_center(page, load)
        page.mouse.click(x, y)
        state = page.evaluate("memlyzeFlame.state()")
        assert state["zoom"] == load and state["zoomName"] == "load"
        assert page.locator("#breadcrumb button").all_text_contents() == ["<all>", "<module>", "main", "load"]
        # hovering shows the tooltip
        decode = page.evaluate("memlyzeFlame.findNodes('decode')[0]")
        page.mouse.move(*frame_center(page, decode))
        tip = page.inner_text("#tooltip")
        assert "decode" in tip and "/app/image_cache.py:27" in tip and "60.0 MiB" in tip
        assert "40 allocations" in tip and "90.3% of total" in tip
        page.click("#reset-zoom")
        assert page.evaluate("memlyzeFlame.state().zoom") == 0
        # the peak on the chart
        marker = page.locator("#peak-marker")
        assert marker.get_attribute("aria-label") == "peak 66.5 MiB at 1.20 s"
        assert loaded.problems() == []
        assert loaded.requests == [loaded.url]
    finally:
        page.close()


def test_inverted_and_sampled(browser, tmp_path):
    loaded = _page(browser, tmp_path, flame_fixture.small(inverted=True, sampled=True))
    page = loaded.page
    try:
        assert page.evaluate("memlyzeFlame.state().inverted") is True
        assert "Icicle" in page.inner_text("#flame-heading")
        note = page.inner_text("#sampling-note")
        assert "Sampled" in note and "estimates" in note
        # icicle: the root is the top row of the canvas
        root = page.evaluate("memlyzeFlame.nodeRect(0)")
        box = page.locator("#flame").bounding_box()
        assert abs(root["y"] - box["y"]) < 2
        load = page.evaluate("memlyzeFlame.findNodes('load')[0]")
        page.mouse.click(*frame_center(page, load))
        assert page.evaluate("memlyzeFlame.state().zoom") == load
        page.keyboard.press("Escape")
        assert page.evaluate("memlyzeFlame.state().zoom") == 0
        assert loaded.problems() == []
    finally:
        page.close()


def test_temporal_range_drag(browser, tmp_path):
    loaded = _page(browser, tmp_path, flame_fixture.small(temporal=True))
    page = loaded.page
    try:
        assert page.is_visible("#range-help")
        # by the API: allocated in 0.25 s .. 0.95 s and alive at its end: decode's
        # buckets 2..9 (8 x 6 MiB) and not read_header (bucket 1)
        result = page.evaluate("memlyzeFlame.selectRange(0.25, 0.95)")
        assert result["bytes"] == 8 * 6 * 1024 * 1024
        assert page.evaluate("memlyzeFlame.findNodes('read_header')") == []
        # by dragging on the chart from 0.05 s to 1.45 s
        chart = page.locator("#chart").bounding_box()
        left, right = 64, 12
        def x_at(seconds):
            return chart["x"] + left + seconds / 2.0 * (chart["width"] - left - right)
        y = chart["y"] + chart["height"] / 2
        page.mouse.move(x_at(0.05), y)
        page.mouse.down()
        page.mouse.move(x_at(0.7), y, steps=4)
        page.mouse.move(x_at(1.45), y, steps=4)
        page.mouse.up()
        state = page.evaluate("memlyzeFlame.state()")
        # buckets 0..14: decode (all 10, freed in 15), read_header, remember; setup freed in 3
        expected = 60 * 1024 * 1024 + 4 * 1024 * 1024 + 2 * 1024 * 1024 + 400 * 1024
        assert state["totalBytes"] == expected, state
        assert state["range"]["t0"] == 0.0 and state["range"]["t1"] == pytest.approx(1.5)
        assert "still alive" in page.inner_text("#selection-label")
        screenshot(page, "flamegraph-fixture-temporal.png")
        page.click("#range-clear")
        assert page.evaluate("memlyzeFlame.state().range") is None
        assert loaded.problems() == []
    finally:
        page.close()


def test_untrusted_names_stay_text(browser, tmp_path):
    data = flame_fixture.small(function_name=XSS_FUNCTION, file_name=XSS_FILE)
    loaded = _page(browser, tmp_path, data)
    page = loaded.page
    try:
        node = page.evaluate("(name) => memlyzeFlame.findNodes(name)[0]", XSS_FUNCTION)
        assert page.evaluate("(i) => memlyzeFlame.frame(i).file", node) == XSS_FILE
        names = page.locator("#frame-list li").all_text_contents()
        assert any(name.startswith(XSS_FUNCTION + " \u2014 " + XSS_FILE) for name in names)
        page.mouse.move(*frame_center(page, node))
        assert XSS_FUNCTION in page.inner_text("#tooltip")
        page.mouse.click(*frame_center(page, node))
        assert XSS_FUNCTION in page.locator("#breadcrumb").inner_text()
        assert page.evaluate("memlyzeFlame.search('onerror')") > 0.8
        page.wait_for_timeout(200)
        screenshot(page, "flamegraph-fixture-untrusted-names.png")
        assert page.locator("img").count() == 0
        assert page.evaluate("document.scripts.length") == 2
        assert loaded.dialogs == []
        assert loaded.problems() == []
    finally:
        page.close()


def test_big_tree_stays_fast(browser, tmp_path):
    data = flame_fixture.big(node_target=120_000)
    started = time.monotonic()
    loaded = _page(browser, tmp_path, data, "big.html")
    load_seconds = time.monotonic() - started
    page = loaded.page
    try:
        assert page.evaluate("memlyzeFlame.state().nodeCount") == len(data["nodes"]["parent"])
        timings = page.evaluate("""() => {
            const f = window.memlyzeFlame, out = {};
            let t = performance.now(); f.search('function_1'); out.search = performance.now() - t;
            t = performance.now(); f.zoom(f.findNodes(f.frame(1).function)[0]); out.zoom = performance.now() - t;
            t = performance.now(); f.reset(); out.reset = performance.now() - t;
            return out;
        }""")
        assert load_seconds < 10, load_seconds
        for what, ms in timings.items():
            assert ms < 1000, (what, ms)
        assert loaded.problems() == []
    finally:
        page.close()


def test_empty_selection_and_no_timeline(browser, tmp_path):
    data = flame_fixture.small()
    data["nodes"] = {key: value[:1] for key, value in data["nodes"].items()}
    for key in ("bytes", "count", "self_bytes"):
        data["nodes"][key] = [0]
    data["timeline"] = {"time_s": [], "heap_bytes": [], "rss_time_s": [], "rss_bytes": [], "gc_time_s": [],
                        "peak_time_s": None, "peak_bytes": 0}
    data["meta"].update(peak_bytes=0, peak_time_s=None, selection="leaks", selection_label="leaked memory",
                        truncated=True, other_threshold_bytes=4096, folded_count=1234,
                        folded_bytes=0, capture_truncated=True,
                        truncation_note="no footer: the process was killed")
    loaded = _page(browser, tmp_path, data)
    page = loaded.page
    try:
        assert "No memory" in page.inner_text("#empty-note")
        note = page.inner_text("#truncation-note")
        assert "capture is truncated (no footer: the process was killed)" in note
        assert "1,234 frames under 4.0 KiB folded into \u201cother\u201d" in note
        assert page.evaluate("memlyzeFlame.search('x')") == 0
        assert page.evaluate("memlyzeFlame.zoom(3)") == 0
        assert page.locator("#peak-marker").count() == 0
        assert loaded.problems() == []
    finally:
        page.close()
