"""`memlyze flamegraph` on real captures, opened in headless Chromium: the page
loads offline without errors, names the frames, searches, zooms on a real
click, marks the peak; a program with hostile function and file names cannot
run script in it. Leaves test-output/flamegraph.png for people to look at."""

from __future__ import annotations

import json
import re

import pytest
from conftest import MB, check, memlyze, stats_json, write_script
from flame_browser import browser_context, frame_center, open_page, screenshot

WORKLOAD = """
KEEP = []


def alpha_buffers():
    for _ in range(60):
        KEEP.append(bytearray(1_000_000))  # ALPHA


def beta_buffers():
    for _ in range(20):
        KEEP.append(bytearray(1_000_000))  # BETA


def main():
    alpha_buffers()
    beta_buffers()
    KEEP.clear()
    for _ in range(5):
        bytearray(5_000_000)


main()
"""

XSS_FUNCTION = "<img src=x onerror=alert(1)>"
XSS_FILE = "/tmp/x\"y'</script><script>alert(2)</script>.py"
HOSTILE = """
NAME = {name!r}
SOURCE = "def evil():\\n    return [bytearray(1_000_000) for _ in range(30)]\\n"
namespace = {{}}
exec(compile(SOURCE, {file!r}, "exec"), namespace)
evil = namespace["evil"]
evil.__code__ = evil.__code__.replace(co_name=NAME, co_qualname=NAME)
evil.__name__ = evil.__qualname__ = NAME
held = evil()
print(len(held))
"""


@pytest.fixture(scope="module")
def browser():
    with browser_context() as context:
        yield context


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    directory = tmp_path_factory.mktemp("flamegraph")
    script = write_script(directory, "alphabeta.py", WORKLOAD)
    capture = directory / "alphabeta.mlyze"
    check(memlyze("run", "-o", capture, script, cwd=directory))
    return directory, capture, stats_json(capture, directory)


def test_flamegraph_of_a_real_capture(workload, browser):
    directory, capture, stats = workload
    result = check(memlyze("flamegraph", capture, cwd=directory))
    page_path = directory / "memlyze-flamegraph-alphabeta.html"
    assert page_path.exists(), result.stdout
    assert str(page_path.name) in result.stdout
    # no overwriting without -f; with -f it works
    again = memlyze("flamegraph", capture, cwd=directory)
    assert again.returncode != 0 and "-f" in again.stderr
    check(memlyze("flamegraph", "-f", capture, cwd=directory))

    loaded = open_page(browser, page_path)
    page = loaded.page
    try:
        flame = page.evaluate("window.memlyzeFlame.state()")
        assert flame["totalBytes"] > 80 * MB
        names = " ".join(page.locator("#frame-list li").all_text_contents())
        for name in ("main", "alpha_buffers", "beta_buffers"):
            assert name in names, names
        header = page.inner_text("#header")
        assert "alphabeta.py" in header and stats["python_version"] in header and str(stats["pid"]) in header

        # search by typing, as a person would
        page.fill("#search", "alpha_buffers")
        page.press("#search", "Enter")
        alpha = page.evaluate("window.memlyzeFlame.state().matchedFraction")
        text = page.inner_text("#search-result")
        assert re.match(r"matched: \d+\.\d% of ", text), text
        beta = page.evaluate("window.memlyzeFlame.search('beta_buffers')")
        assert 0.55 < alpha < 0.76, alpha
        assert alpha / beta == pytest.approx(3.0, rel=0.05)
        assert f"{100 * alpha:.1f}%" in text
        page.evaluate("window.memlyzeFlame.search('')")

        # a real click on alpha_buffers' frame zooms into it
        node = page.evaluate("window.memlyzeFlame.findNodes('alpha_buffers')[0]")
        x, y = frame_center(page, node)
        page.mouse.click(x, y)
        state = page.evaluate("window.memlyzeFlame.state()")
        assert state["zoom"] == node and state["zoomName"] == "alpha_buffers"
        assert page.locator("#breadcrumb button").last.inner_text() == "alpha_buffers"
        page.mouse.move(x, y)
        assert "alpha_buffers" in page.inner_text("#tooltip")
        page.click("#reset-zoom")

        # the chart marks the peak where stats says it is
        marker = page.locator("#peak-marker")
        assert marker.count() == 1
        assert marker.get_attribute("aria-label").startswith("peak ")
        assert float(marker.get_attribute("data-bytes")) == pytest.approx(stats["peak_bytes"], rel=0.01)
        assert page.locator("#heap-line").count() == 1

        page.fill("#search", "alpha_buffers")
        page.press("#search", "Enter")
        page.mouse.move(*frame_center(page, node))
        path = screenshot(page, "flamegraph.png")
        assert path.stat().st_size > 10_000
        assert loaded.problems() == [], loaded.problems()
        assert loaded.requests == [loaded.url]
    finally:
        page.close()


def test_inverted_and_temporal_pages(workload, browser):
    directory, capture, _ = workload
    for options, name in ((["--inverted"], "inverted.html"), (["--temporal"], "temporal.html")):
        check(memlyze("flamegraph", *options, "-o", directory / name, capture, cwd=directory))
        loaded = open_page(browser, directory / name)
        page = loaded.page
        try:
            state = page.evaluate("window.memlyzeFlame.state()")
            assert state["totalBytes"] > 0
            if "--inverted" in options:
                assert state["inverted"] is True
                assert page.evaluate("window.memlyzeFlame.findNodes('alpha_buffers').length") >= 1
            else:
                data = json.loads(page.evaluate("document.getElementById('flame-data').textContent"))
                assert data["temporal"] is not None
                duration = data["meta"]["duration_s"]
                selected = page.evaluate("(d) => window.memlyzeFlame.selectRange(0, d)", duration)
                assert selected is not None and selected["bytes"] >= 0
            assert loaded.problems() == [], loaded.problems()
        finally:
            page.close()


def test_hostile_names_render_as_text(tmp_path, browser):
    script = write_script(tmp_path, "hostile.py", HOSTILE.format(name=XSS_FUNCTION, file=XSS_FILE))
    capture = tmp_path / "hostile.mlyze"
    check(memlyze("run", "-o", capture, script, cwd=tmp_path))
    check(memlyze("flamegraph", "-o", tmp_path / "hostile.html", capture, cwd=tmp_path))
    html = (tmp_path / "hostile.html").read_text()
    assert XSS_FUNCTION not in html and "</script><script>alert" not in html
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html

    loaded = open_page(browser, tmp_path / "hostile.html")
    page = loaded.page
    try:
        nodes = page.evaluate("(n) => window.memlyzeFlame.findNodes(n)", XSS_FUNCTION)
        assert nodes, "the hostile function is not in the flame graph"
        frame = page.evaluate("(i) => window.memlyzeFlame.frame(i)", nodes[0])
        assert frame["file"] == XSS_FILE
        assert any(XSS_FUNCTION in entry for entry in page.locator("#frame-list li").all_text_contents())
        page.mouse.move(*frame_center(page, nodes[0]))
        assert XSS_FUNCTION in page.inner_text("#tooltip")
        page.mouse.click(*frame_center(page, nodes[0]))
        assert page.evaluate("window.memlyzeFlame.search('onerror')") > 0
        page.wait_for_timeout(200)
        screenshot(page, "flamegraph-untrusted-names.png")
        assert page.locator("img").count() == 0
        assert page.evaluate("document.scripts.length") == 2
        assert loaded.dialogs == []
        assert loaded.problems() == [], loaded.problems()
    finally:
        page.close()
