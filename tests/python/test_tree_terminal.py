"""The interactive memlyze tree on a real terminal (tmux): each key's effect
read off the screen, on a workload whose functions, lines and bytes are known
(function_workload.py)."""

import re

import pytest

from conftest import MEMLYZE, bytearray_bytes, clean_env, line_of
from function_workload import RECURSE_TOTAL, WORKER_BYTES, record_workload
from tmux_screen import DONE, TmuxScreen

from memlyze import formatting as fmt


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tree_terminal")
    script, capture = record_workload(directory)
    return directory, script, capture


@pytest.fixture
def terminal(workload):
    directory, script, capture = workload
    screens = []

    def start(*arguments):
        # --min-percent 2: only the workload's frames and a few of start-up's,
        # so that the expanded tree fits the 50 lines.
        screen = TmuxScreen([*MEMLYZE, "tree", "--leaks", "--min-percent", "2", *arguments,
                             str(capture)], directory, clean_env(TERM="xterm-256color"))
        screens.append(screen)
        screen.wait_text("? shows the keys")
        return screen

    yield start
    for screen in screens:
        screen.close()


def test_moving_opening_and_the_detail_pane(workload, terminal):
    directory, script, capture = workload
    screen = terminal()
    shown = screen.wait_text("<module>")
    assert "memory still allocated when tracking stopped" in shown  # the header's selection
    assert "Bytes:" in shown and "<all>" in shown  # the root's details
    main_line = line_of(script, "MAIN_RECURSE")
    screen.press("j")  # down, to the script's <module>
    shown = screen.wait_text("Source:")
    assert re.search(r">\s+\d+\s+main\(\)", shown), shown  # its source line, marked
    screen.press("l")  # open it: main's frames appear
    shown = screen.wait_text(f"main  {script}:{main_line}")
    screen.press("Down")
    shown = screen.wait_text("recurse(3)  # MAIN_RECURSE")  # main's source line
    # The detail pane: main at its call of recurse, with the bytes below it.
    assert f"{fmt.human_count(RECURSE_TOTAL)} B" in shown
    assert "Allocations:" in shown and "Threads:" in shown and "MainThread" in shown
    screen.press("e")  # expand all below main: the recursion down to leaf
    calls = f"recurse  {script}:{line_of(script, 'RECURSE_CALL')}"
    screen.wait_for(lambda text: text.count(calls) == 3 and
                    f"leaf  {script}:{line_of(script, 'LEAF')}" in text, "the whole recursion")
    screen.press("h")  # close main again
    screen.wait_gone(f"leaf  {script}:{line_of(script, 'LEAF')}")
    screen.press("h")  # closed: to its caller, <module>
    shown = screen.wait_for(lambda text: "main()" in text and "recurse(3)" not in text,
                            "the <module>'s details")
    screen.press("Right", "Right", "Right")  # open <module> (already), down, open main
    screen.wait_text(f"recurse  {script}:{line_of(script, 'RECURSE_CALL')}")
    screen.press("c")  # collapse everything: only the root's children stay
    screen.wait_for(lambda text: "collapsed every frame" in text and "<module>" in text and
                    f"main  {script}" not in text, "the collapsed tree")
    screen.press("?")
    shown = screen.wait_text("memlyze tree: keys")
    assert "hide / show import frames" in shown
    screen.press("Escape")
    screen.wait_gone("memlyze tree: keys")
    screen.press("q")
    screen.wait_text(f"{DONE} 0")


def test_search_threads_and_import_frames(workload, terminal):
    directory, script, capture = workload
    screen = terminal()
    screen.press("/")
    screen.wait_text("search a function or file:line")
    screen.type("leaf")
    screen.press("Enter")
    # The first leaf in the tree's order: the one recurse calls, opened to it.
    screen.wait_text("match 1 of 2 for 'leaf'", f"{fmt.human_count(bytearray_bytes(3_000_000))} B",
                     f"Own bytes:   {fmt.human_bytes(bytearray_bytes(3_000_000))}")
    screen.press("n")
    screen.wait_text("match 2 of 2 for 'leaf'", f"{fmt.human_count(bytearray_bytes(500_000))} B")
    screen.press("n")
    screen.wait_text("match 1 of 2 for 'leaf'")  # wraps around
    screen.press("N")
    screen.wait_text("match 2 of 2 for 'leaf'")
    screen.press("/")
    screen.wait_text("search a function or file:line")
    screen.type("worker")
    screen.press("Enter")
    shown = screen.wait_text("for 'worker': worker", f"{fmt.human_count(WORKER_BYTES)} B")
    assert re.search(r"Threads:\s+1\b", shown) and "side-worker" in shown
    screen.press("/")
    screen.wait_text("search a function or file:line")
    screen.type("no-such-function")
    screen.press("Enter")
    screen.wait_text("no frame matches 'no-such-function'")

    imported = f"<module>  {directory / 'heavy_import'}"  # the label's start
    screen.press("c", "e")  # collapse, then expand everything below the root
    shown = screen.wait_text(imported)
    assert "importlib._bootstrap" in shown
    screen.press("i")
    # (3.13 also shows a start-up import above the 2% cut: "2 subtrees".)
    shown = screen.wait_for(lambda text: "import frames hidden: " in text and
                            imported not in text, "the import frames to go")
    assert "importlib._bootstrap" not in shown
    # The rest stays open: the recursion, main's call of leaf, the thread.
    assert f"leaf  {script}:{line_of(script, 'LEAF')}" in shown
    assert f"worker  {script}:{line_of(script, 'WORKER')}" in shown
    screen.press("i")
    screen.wait_text("import frames shown", imported)
    screen.press("q")
    screen.wait_text(f"{DONE} 0")


def test_inverted_tree_starts_at_the_allocating_lines(workload, terminal):
    directory, script, capture = workload
    screen = terminal("--inverted")
    screen.press("j")
    # The largest allocating line first: recurse's four blocks; its callers below.
    recurse = f"{script}:{line_of(script, 'RECURSE')}"
    shown = screen.wait_text(f"recurse  {recurse}", "Source:")
    assert re.search(r">\s+\d+\s+KEEP\[depth\] = bytearray", shown), shown
    # An inverted tree's self figures are its outermost frames': not shown as "own".
    assert "Own bytes:" not in shown
    screen.press("l", "j")
    screen.wait_text(f"recurse  {script}:{line_of(script, 'RECURSE_CALL')}",
                     "recurse(depth - 1)  # RECURSE_CALL")
    screen.press("q")
    screen.wait_text(f"{DONE} 0")
