"""`memlyze flamegraph` on programs whose memory is spread out, in headless
Chromium (issue 14): 2,000 functions of 8 KiB each are all on the page, not
folded into "other"; --min-share folds what it is asked to and the page says
so; the node budget never folds more than 1% of the selection; and boxes say
"function file:line" so two frames of one function at different lines look
different."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import check, memlyze, write_script
from flame_browser import browser_context, open_page, screenshot

from memlyze.reports.flame_data import build_flame_data

REPO = Path(__file__).resolve().parents[2]
SPREAD = REPO / "benchmarks" / "workloads" / "spread_functions.py"
FUNCTIONS = 2000
BUFFER = 8192

LABELS = """
def decode():
    first = bytearray(30_000_000)
    second = bytearray(20_000_000)
    return first, second


def main():
    held = decode()
    small = [bytearray(100_000) for _ in range(3)]
    return held, small


main()
"""


@pytest.fixture(scope="module")
def browser():
    with browser_context() as context:
        yield context


@pytest.fixture(scope="module")
def spread(tmp_path_factory):
    directory = tmp_path_factory.mktemp("spread")
    capture = directory / "spread.mlyze"
    check(memlyze("run", "-o", capture, SPREAD, FUNCTIONS, BUFFER, cwd=directory))
    return directory, capture


def _generated(data) -> list[int]:
    strings, nodes = data["strings"], data["nodes"]
    return [index for index, function in enumerate(nodes["function"])
            if strings[function].startswith("function_")]


def test_spread_out_memory_is_not_folded(spread, browser):
    directory, capture = spread
    result = check(memlyze("flamegraph", "-o", "page.html", capture, cwd=directory))
    assert "frames" in result.stdout
    loaded = open_page(browser, directory / "page.html")
    page = loaded.page
    try:
        assert loaded.problems() == []
        # every function is a frame of its own on the page, none in "other"
        names = page.evaluate("""() => { const out = new Set();
            for (let i = 0; i < memlyzeFlame.state().nodeCount; i++) {
              const f = memlyzeFlame.frame(i).function; if (f.startsWith('function_')) out.add(f); }
            return out.size; }""")
        assert names == FUNCTIONS
        assert page.evaluate("memlyzeFlame.findNodes('other')") == []
        assert page.is_hidden("#truncation-note")
        # zoomed into main, the boxes are the program's functions, labelled
        main = page.evaluate("memlyzeFlame.findNodes('main')[0]")
        page.evaluate("(i) => memlyzeFlame.zoom(i)", main)
        drawn = page.evaluate("memlyzeFlame.drawn()")
        assert any(box["label"] == "main workloads/spread_functions.py:20" for box in drawn)
    finally:
        page.close()


def test_min_share_folds_and_the_page_says_what(spread, browser):
    directory, capture = spread
    check(memlyze("flamegraph", "--min-share", "0.5", "-o", "small.html", capture, cwd=directory))
    loaded = open_page(browser, directory / "small.html")
    page = loaded.page
    try:
        note = page.inner_text("#truncation-note")
        match = re.search(r"([\d,]+) frames under ([\d.]+ KiB) folded into \u201cother\u201d "
                          r"\(--min-share 0.5%\), holding ([\d.]+ MiB) \(([\d.]+)% of the selection\)",
                          note)
        assert match, note
        assert int(match.group(1).replace(",", "")) >= FUNCTIONS
        # 2,000 functions of 8 KiB (16 MiB) of about 20 MiB at the peak
        assert float(match.group(4)) > 70
        other = page.evaluate("""() => memlyzeFlame.findNodes('other')
            .reduce((sum, i) => sum + memlyzeFlame.frame(i).bytes, 0)""")
        total = page.evaluate("memlyzeFlame.state().totalBytes")
        assert other > FUNCTIONS * BUFFER * 0.99
        assert abs(100 * other / total - float(match.group(4))) <= 0.05
        screenshot(page, "flamegraph-min-share.png")
    finally:
        page.close()


def test_node_budget_never_folds_more_than_one_percent(spread):
    directory, capture = spread
    data = build_flame_data(capture, max_nodes=200, progress=None)
    meta = data["meta"]
    total = meta["total_bytes"]
    # the budget (100 kept frames) would fold nearly everything: it gives way
    assert meta["folded_bytes"] <= 0.01 * total
    assert len(_generated(data)) >= 0.99 * FUNCTIONS
    other_bytes = sum(data["nodes"]["bytes"][index]
                      for index, function in enumerate(data["nodes"]["function"])
                      if data["strings"][function] == "other")
    assert other_bytes == meta["folded_bytes"]
    # bytes are never lost to folding
    exact = build_flame_data(capture, max_nodes=2**40, progress=None)
    assert exact["meta"]["total_bytes"] == total and not exact["meta"]["truncated"]
    # a budget that fits everything but the smallest frames folds them, within 1%
    trimmed = build_flame_data(capture, max_nodes=len(exact["nodes"]["parent"]) * 2 - 20,
                               progress=None)
    assert trimmed["meta"]["folded_bytes"] <= 0.01 * total


def test_min_share_must_be_a_percentage(spread):
    directory, capture = spread
    for value in ("abc", "150", "-1"):
        result = memlyze("flamegraph", "--min-share", value, "-o", "bad.html", capture,
                         cwd=directory)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and "--min-share" in result.stderr
        assert "Traceback" not in result.stderr
        assert not (directory / "bad.html").exists()


def test_boxes_show_function_file_and_line(tmp_path, browser):
    script = write_script(tmp_path, "labels.py", LABELS)
    capture = tmp_path / "labels.mlyze"
    check(memlyze("run", "-o", capture, script, cwd=tmp_path))
    check(memlyze("flamegraph", "-o", "labels.html", capture, cwd=tmp_path))
    loaded = open_page(browser, tmp_path / "labels.html")
    page = loaded.page
    try:
        drawn = page.evaluate("memlyzeFlame.drawn()")
        short = f"{tmp_path.name}/labels.py"
        labels = [box["label"] for box in drawn]
        # the two decode frames (lines 2 and 3) are told apart on the canvas
        assert f"decode {short}:2" in labels and f"decode {short}:3" in labels
        for box in drawn:
            frame = page.evaluate("(i) => memlyzeFlame.frame(i)", box["node"])
            if not box["label"] or box["label"] == frame["function"]:
                continue
            if box["label"].startswith(frame["function"] + " "):
                assert frame["file"].endswith(box["label"][len(frame["function"]) + 1:].rsplit(":", 1)[0])
            else:  # cut to fit: the function name only
                assert box["label"].endswith("\u2026")
                assert frame["function"].startswith(box["label"][:-1])
        # the tooltip keeps the whole path
        decode = page.evaluate("memlyzeFlame.findNodes('decode')[0]")
        rect = page.evaluate("(i) => memlyzeFlame.nodeRect(i)", decode)
        page.mouse.move(rect["x"] + rect["width"] / 2, rect["y"] + rect["height"] / 2)
        assert str(script) in page.inner_text("#tooltip")
        screenshot(page, "flamegraph-labels.png")
    finally:
        page.close()


LEAKY = """
KEEP = []


def churn():
    for _ in range(20):
        bytearray(50_000_000)


# Large enough that the interpreter's own import-time leaks stay slivers
# also where its small objects are recorded (free-threaded builds).
def leak_small():
    KEEP.append(bytearray(3_000_000))


churn()
leak_small()
"""


def test_a_small_leak_fills_the_width(tmp_path, browser):
    script = write_script(tmp_path, "leaky.py", LEAKY)
    capture = tmp_path / "leaky.mlyze"
    check(memlyze("run", "-o", capture, script, cwd=tmp_path))
    check(memlyze("flamegraph", "--leaks", "-o", "leaks.html", capture, cwd=tmp_path))
    loaded = open_page(browser, tmp_path / "leaks.html")
    page = loaded.page
    try:
        state = page.evaluate("memlyzeFlame.state()")
        drawn = page.evaluate("memlyzeFlame.drawn()")
        width = state["canvas"]["width"]
        # the root is the selection (what leaked), not the peak: it spans the canvas
        root = [box for box in drawn if box["node"] == 0][0]
        assert root["x"] == 0 and root["w"] == pytest.approx(width)
        assert state["totalBytes"] < 10_000_000  # the leaks, not the 50 MB peak
        leak = page.evaluate("memlyzeFlame.findNodes('leak_small')[0]")
        box = [box for box in drawn if box["node"] == leak][0]
        share = page.evaluate("(i) => memlyzeFlame.frame(i).bytes", leak) / state["totalBytes"]
        assert box["w"] == pytest.approx(share * width, rel=0.01)
        assert box["label"].startswith("leak_small")
        # the program's <module> is the first level above the root: no memlyze frames below it
        module = page.evaluate("memlyzeFlame.frame(memlyzeFlame.findNodes('leak_small')[0]).parent")
        assert page.evaluate("(i) => memlyzeFlame.frame(i).depth", module) == 1
        # a column of slivers (import-time leaks, deep and narrow) does not make the
        # canvas tall: three levels are drawn, and zooming into the column shows it
        assert state["canvas"]["rows"] == 3, state
        deep = page.evaluate("""() => { let best = -1, depth = 0;
            for (let i = 0; i < memlyzeFlame.state().nodeCount; i++) {
              const f = memlyzeFlame.frame(i);
              if (f.bytes > 0 && f.depth > depth) { best = i; depth = f.depth; } }
            return best; }""")
        assert page.evaluate("(i) => memlyzeFlame.frame(i).depth", deep) >= 6
        ancestor = deep
        while page.evaluate("(i) => memlyzeFlame.frame(i).depth", ancestor) > 1:
            ancestor = page.evaluate("(i) => memlyzeFlame.frame(i).parent", ancestor)
        screenshot(page, "flamegraph-small-leak.png")
        page.evaluate("(i) => memlyzeFlame.zoom(i)", ancestor)
        assert page.evaluate("memlyzeFlame.state().canvas.rows") > 3
        assert deep in [box["node"] for box in page.evaluate("memlyzeFlame.drawn()")]
    finally:
        page.close()
