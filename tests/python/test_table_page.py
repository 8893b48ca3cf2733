"""The table page (`memlyze table --html`) in headless Chromium: 100,000
hand-made rows whose figures are known (rendering a screenful, the row
count, sorting, searching, the size filter, scrolling), and a real capture
of two threads filtered by thread. Leaves test-output/table.png."""

from __future__ import annotations

import pytest
from conftest import bytearray_bytes, check, line_of, memlyze, write_script
from flame_browser import browser_context, open_page, screenshot

from memlyze.reports.table_html import StringTable, location_columns, location_page

ROWS = 100_000
LARGEST = 54_321        # the row holding the most bytes
MOST_ALLOCATIONS = 777  # the row with the most allocations


def row_figures(index: int) -> dict:
    # distinct bytes for every row (all below the largest's)
    nbytes = 1_000_000_000 if index == LARGEST else 1_000 + (index * 7_919) % 9_000_000
    return {"function": f"func_{index}", "file": f"/app/module_{index % 100}.py",
            "line": index + 1, "bytes": nbytes,
            "count": 5_000_000 if index == MOST_ALLOCATIONS else 1 + index % 1_000,
            "leaked_bytes": 0, "total_bytes": 2 * nbytes, "total_count": 3}


@pytest.fixture(scope="module")
def browser():
    with browser_context() as context:
        yield context


@pytest.fixture(scope="module")
def big_page(tmp_path_factory):
    rows = sorted((row_figures(index) for index in range(ROWS)),
                  key=lambda row: (-row["bytes"], -row["count"]))
    strings = StringTable()
    data = {"selection_bytes": sum(row["bytes"] for row in rows), "sorted_by": "bytes",
            "rows": location_columns(rows, strings), "threads": [], "thread_rows": None,
            "strings": strings.table}
    path = tmp_path_factory.mktemp("table_page") / "big.html"
    path.write_text(location_page("memlyze table", ["big: 100,000 locations"], data),
                    encoding="utf-8")
    return path


def drawn_functions(page) -> list[str]:
    return [cells[6] for cells in page.evaluate("memlyzeTable.drawn()")]


def test_hundred_thousand_rows_render_sort_and_search(browser, big_page):
    loaded = open_page(browser, big_page)
    page = loaded.page
    try:
        assert page.inner_text("#row-count").startswith("100,000 locations")
        drawn = page.evaluate("memlyzeTable.drawn()")
        # a screenful is in the document, not 100,000 rows
        assert 10 < len(drawn) < 120, len(drawn)
        assert page.locator("#rows .row").count() < 120
        assert drawn[0][6] == f"func_{LARGEST}" and drawn[0][0] == "953.7 MiB"
        assert drawn[0][7] == f"/app/module_{LARGEST % 100}.py:{LARGEST + 1}"
        # the first row is on the screen, below the header
        box = page.locator("#rows .row").first.bounding_box()
        head = page.locator("#head").bounding_box()
        assert box["y"] >= head["y"] + head["height"] - 1 and box["height"] > 20

        # a click on "count" sorts by it: the known most frequent row first
        page.click("#head [data-column=count] button")
        assert page.get_attribute("#head [data-column=count]", "aria-sort") == "descending"
        assert drawn_functions(page)[0] == f"func_{MOST_ALLOCATIONS}"
        counts = [row["count"] for row in page.evaluate("memlyzeTable.rows(0, 1000)")]
        assert counts == sorted(counts, reverse=True)
        # bytes, twice: ascending, the smallest first
        page.click("#head [data-column=bytes] button")
        page.click("#head [data-column=bytes] button")
        first = page.evaluate("memlyzeTable.rows(0, 3)")
        smallest = min(row_figures(index)["bytes"] for index in range(ROWS))
        assert first[0]["bytes"] == smallest
        page.evaluate("memlyzeTable.sort('bytes', true)")
        assert drawn_functions(page)[0] == f"func_{LARGEST}"

        # search narrows to the known rows, typed into the box
        page.fill("#search", "func_4242")
        page.press("#search", "Enter")
        expected = {"func_4242"} | {f"func_4242{digit}" for digit in range(10)}
        assert set(drawn_functions(page)) == expected
        assert page.inner_text("#row-count").startswith("11 of 100,000 locations")
        # a file name matches too: every hundredth row is in module_7.py
        state = page.evaluate("memlyzeTable.search('module_7.py')")
        assert state["shown"] == ROWS // 100
        assert all(row["file"] == "/app/module_7.py" for row in page.evaluate("memlyzeTable.rows(0, 2000)"))
        page.evaluate("memlyzeTable.search('')")

        # the size filter: only rows of at least 8.5 MB
        page.fill("#min-size", "8.5 MB")
        page.press("#min-size", "Enter")
        page.locator("#min-size").blur()
        state = page.evaluate("memlyzeTable.state()")
        expected_rows = sum(1 for index in range(ROWS) if row_figures(index)["bytes"] >= 8_500_000)
        assert state["minBytes"] == 8_500_000 and state["shown"] == expected_rows
        page.fill("#min-size", "")
        page.locator("#min-size").blur()
        assert page.evaluate("memlyzeTable.state().shown") == ROWS

        # scrolling to the end draws the last rows
        page.evaluate("document.getElementById('viewport').scrollTop = 1e9")
        page.wait_for_function("() => memlyzeTable.drawn().length > 0 && "
                               "+document.querySelector('#rows .row:not([hidden])')"
                               ".getAttribute('aria-rowindex') > 99000")
        last = page.evaluate("memlyzeTable.rows(99999, 1)")[0]["function"]
        assert last in drawn_functions(page)
        page.evaluate("document.getElementById('viewport').scrollTop = 0")
        assert screenshot(page, "table.png").stat().st_size > 10_000
        assert loaded.problems() == [], loaded.problems()
        assert loaded.requests == [loaded.url]
    finally:
        page.close()


THREADS = """
import threading

# Filled by index: a list's growth is recorded on a free-threaded build and
# would add to the lines' bytes.
KEEP = [None] * 4


def worker():
    for index in range(3):
        KEEP[index] = bytearray(2_000_000)  # WORKER


def main_work():
    KEEP[3] = bytearray(7_000_000)  # MAIN


thread = threading.Thread(target=worker, name="worker")
thread.start()
thread.join()
main_work()
"""


def test_table_of_two_threads_filters_by_thread(browser, tmp_path):
    script = write_script(tmp_path, "threads.py", THREADS)
    check(memlyze("run", "-o", "threads.mlyze", script, cwd=tmp_path))
    check(memlyze("table", "--html", "-o", "threads.html", "threads.mlyze", cwd=tmp_path))
    loaded = open_page(browser, tmp_path / "threads.html")
    page = loaded.page
    worker_line, main_line = line_of(script, "WORKER"), line_of(script, "MAIN")
    try:
        rows = page.evaluate("memlyzeTable.rows(0, 2)")
        assert [(row["function"], row["line"]) for row in rows] == [("main_work", main_line),
                                                                    ("worker", worker_line)]
        assert rows[1]["bytes"] == bytearray_bytes(2_000_000, 3)
        options = page.locator("#thread option").all_text_contents()
        assert options[0] == "All threads" and any("worker" in option for option in options)
        label = next(option for option in options if "worker" in option)
        page.select_option("#thread", label=label)
        state = page.evaluate("memlyzeTable.state()")
        assert state["thread"] == label
        # only the worker's own allocations: its three buffers first
        assert state["first"][0]["function"] == "worker"
        assert state["first"][0]["bytes"] == bytearray_bytes(2_000_000, 3)
        assert all(row["function"] != "main_work" for row in page.evaluate("memlyzeTable.rows(0, 10000)"))
        assert "main_work" not in drawn_functions(page)
        page.select_option("#thread", label="All threads")
        assert "main_work" in drawn_functions(page)
        assert loaded.problems() == [], loaded.problems()
    finally:
        page.close()

