"""%load_ext memlyze, %%memlyze_flamegraph and %%memlyze_summary in a real
notebook: built with nbformat, executed headless by nbclient on an ipykernel
of this interpreter, its flame graph outputs opened in headless Chromium.

One notebook runs once for the module (a kernel start costs seconds); each
test reads the outputs of its own cells. The workloads allocate bytearrays of
known sizes at known lines of the cells, into lists made beforehand (a free-
threaded build records the list's own memory at the line that grows it)."""

from __future__ import annotations

import html
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest
from conftest import BYTEARRAY_ALLOCATIONS, bytearray_bytes, check, clean_env, memlyze

import memlyze as memlyze_package
from memlyze import formatting as fmt


HOLD_CELL = """\
%%memlyze_flamegraph --html {page} -o {capture}
def hold_blocks():
    blocks = [None] * 50
    for index in range(50):
        blocks[index] = bytearray(1_000_000)
    return blocks
blocks = hold_blocks()
print("made", len(blocks))
len(blocks)"""
HOLD_LINE, HOLD_CALL_LINE = 4, 6

LEAKS_CELL = """\
%%memlyze_flamegraph --leaks
def keep_buffers():
    kept = [None] * 4
    for index in range(4):
        kept[index] = bytearray(3_000_000)
    return kept
def churn():
    for _ in range(5):
        scratch = bytearray(8_000_000)
        del scratch
kept = keep_buffers()
churn()"""
KEEP_LINE, CHURN_LINE = 4, 8

SUMMARY_CELL = """\
%%memlyze_summary -n 3 -o {capture}
def fill():
    filled = [None] * 10
    for index in range(10):
        filled[index] = bytearray(2_000_000)
    return filled
filled = fill()"""
FILL_LINE = 4

RAISING_CELL = """\
%%memlyze_summary
before_error = bytearray(1_000_000)
raise ValueError("boom in the cell")"""

OPTIONS_CELL = """\
%%memlyze_summary --sample-interval 64KiB --python-allocators --native -o {capture}
sampled = [bytearray(100_000) for _ in range(100)]"""

# name -> source; the notebook runs them in this order
CELLS = {
    "load": "%load_ext memlyze",
    "hold": HOLD_CELL,
    "after_hold": "print(len(blocks), type(blocks[0]).__name__, _)",
    "all_frames": "%%memlyze_flamegraph --all-frames\nframes_kept = bytearray(5_000_000)",
    "leaks": LEAKS_CELL,
    "summary": SUMMARY_CELL,
    "bad_option": "%%memlyze_flamegraph --bogus\nbad_option_ran = True",
    "bad_value": "%%memlyze_summary --sample-interval lots\nbad_value_ran = True",
    "after_bad": "print('bad_option_ran' in globals(), 'bad_value_ran' in globals())",
    "raising": RAISING_CELL,
    "after_raising": "print('after', len(before_error))",
    "options": OPTIONS_CELL,
    "existing_output": "%%memlyze_summary -o {summary_capture}\nexisting_ran = True",
    "own_tracker": "import memlyze\nown_tracker = memlyze.start('own.mlyze')",
    "inside_own_tracker": "%%memlyze_summary\ninside_ran = True",
    "stop_own_tracker": "own_tracker.stop()\nprint('inside_ran' in globals())",
}


class Notebook:
    """The executed notebook: outputs and execute_reply status by cell name."""

    def __init__(self, directory: Path, cells: dict, outputs: dict, statuses: dict):
        self.directory = directory
        self.cells = cells
        self.outputs = outputs
        self.statuses = statuses

    def streams(self, name: str, stream: str) -> str:
        return "".join(output["text"] for output in self.outputs[name]
                       if output["output_type"] == "stream" and output["name"] == stream)

    def html_outputs(self, name: str) -> list:
        return [output["data"]["text/html"] for output in self.outputs[name]
                if output["output_type"] == "display_data" and "text/html" in output["data"]]


def _kernel_spec(directory: Path) -> None:
    """A kernel of this very interpreter (the one memlyze is installed in)."""
    spec = directory / "jupyter" / "kernels" / "memlyze-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "memlyze test", "language": "python"}))


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    directory = tmp_path_factory.mktemp("notebook")
    _kernel_spec(directory)
    paths = {"page": directory / "hold.html", "capture": directory / "hold.mlyze",
             "summary_capture": directory / "summary.mlyze",
             "options_capture": directory / "options.mlyze"}
    quoted = {key: shlex.quote(str(value)) for key, value in paths.items()}
    cells = dict(CELLS)
    cells["hold"] = HOLD_CELL.format(page=quoted["page"], capture=quoted["capture"])
    cells["summary"] = SUMMARY_CELL.format(capture=quoted["summary_capture"])
    cells["options"] = OPTIONS_CELL.format(capture=quoted["options_capture"])
    cells["existing_output"] = CELLS["existing_output"].format(
        summary_capture=quoted["summary_capture"])
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell(source) for source in cells.values()]
    statuses = {}
    client = nbclient.NotebookClient(
        book, timeout=120, kernel_name="memlyze-test", allow_errors=True,
        resources={"metadata": {"path": str(directory)}},
        on_cell_executed=lambda cell, cell_index, execute_reply:
            statuses.__setitem__(cell_index, execute_reply["content"]["status"]))
    environment = clean_env(JUPYTER_PATH=str(directory / "jupyter"),
                            JUPYTER_RUNTIME_DIR=str(directory / "runtime"),
                            IPYTHONDIR=str(directory / "ipython"))
    with pytest.MonkeyPatch.context() as patch:
        for key in list(sys.modules["os"].environ):
            if key not in environment:
                patch.delenv(key)
        for key, value in environment.items():
            patch.setenv(key, value)
        client.execute()
    names = list(cells)
    outputs = {name: book.cells[index].outputs for index, name in enumerate(names)}
    counts = {name: book.cells[index].execution_count for index, name in enumerate(names)}
    result = Notebook(directory, cells, outputs, {names[index]: status
                                                  for index, status in statuses.items()})
    result.paths = paths
    result.counts = counts  # the In [N] of each cell
    return result


WIDEST_LEAF = """() => {
    const count = memlyzeFlame.state().nodeCount, frames = [], parents = new Set();
    for (let i = 0; i < count; i++) {
        const frame = memlyzeFlame.frame(i);
        frames.push(frame);
        parents.add(frame.parent);
    }
    let best = null;
    for (const frame of frames)
        if (!parents.has(frame.index) && (!best || frame.bytes > best.bytes)) best = frame;
    return best;
}"""


def flame_data_of(output_html: str) -> dict:
    """The flame data inside the page inside an output's iframe srcdoc."""
    found = re.search(r'srcdoc="([^"]*)"', output_html)
    assert found, output_html[:300]
    page = html.unescape(found.group(1))
    data = re.search(r'<script type="application/json" id="flame-data">(.*?)</script>', page, re.S)
    assert data, "no flame data in the page"
    return json.loads(data.group(1))


def cell_nodes(data: dict, function: str, line: int) -> list:
    """The indices of the nodes of that function at that line of a cell (the
    page names the cell's file as IPython does: "Cell In[N]")."""
    strings, nodes = data["strings"], data["nodes"]
    return [index for index in range(len(nodes["parent"]))
            if strings[nodes["function"][index]] == function and nodes["line"][index] == line
            and strings[nodes["file"][index]].startswith("Cell In[")]


def nodes_at(data: dict, function: str, line: int) -> list:
    """(bytes, count, self_bytes) of every node of that function at that line of a cell."""
    nodes = data["nodes"]
    return [(nodes["bytes"][index], nodes["count"][index], nodes["self_bytes"][index])
            for index in cell_nodes(data, function, line)]


def test_import_memlyze_does_not_load_ipython():
    # the magics and IPython load with %load_ext only
    code = ("import sys, memlyze; print('IPython' in sys.modules, 'memlyze.ipython' in sys.modules,"
            " callable(memlyze.load_ipython_extension))")
    result = check(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  env=clean_env(), timeout=60))
    assert result.stdout.split() == ["False", "False", "True"]


def test_flamegraph_cell_runs_as_without_the_magic(notebook):
    assert notebook.statuses["hold"] == "ok"
    assert notebook.streams("hold", "stdout") == "made 50\n"
    results = [output for output in notebook.outputs["hold"]
               if output["output_type"] == "execute_result"]
    assert [result["data"]["text/plain"] for result in results] == ["50"]
    # its variables live on, and its result is the shell's _
    assert notebook.streams("after_hold", "stdout") == "50 bytearray 50\n"


def test_flamegraph_output_holds_the_cells_allocations(notebook):
    (output,) = notebook.html_outputs("hold")
    assert output.startswith("<iframe") and 'sandbox="allow-scripts"' in output
    data = flame_data_of(output)
    held = bytearray_bytes(1_000_000, 50)
    assert nodes_at(data, "hold_blocks", HOLD_LINE) == [
        (held, 50 * BYTEARRAY_ALLOCATIONS, held)]
    assert data["meta"]["selection"] == "peak"
    assert data["meta"]["command"].startswith(
        f"In [{notebook.counts['hold']}]: %%memlyze_flamegraph --html ")
    assert data["strings"].count(f"Cell In[{notebook.counts['hold']}]") == 1
    # the plain-text form (terminal IPython) says what it is
    (text,) = [output["data"]["text/plain"] for output in notebook.outputs["hold"]
               if output["output_type"] == "display_data"]
    assert text.startswith("memlyze flame graph of the cell: memory held at the peak")
    assert str(notebook.paths["page"]) in text


def test_flamegraph_starts_at_the_cell(notebook):
    data = flame_data_of(notebook.html_outputs("hold")[0])
    nodes, strings = data["nodes"], data["strings"]
    (module,) = cell_nodes(data, "<module>", HOLD_CALL_LINE)  # blocks = hold_blocks()
    assert nodes["parent"][module] == 0  # right under the root
    held = bytearray_bytes(1_000_000, 50)
    # (a free-threaded build also records hold_blocks' list of 50 pointers)
    assert held <= nodes["bytes"][module] <= held + 4096
    # the kernel's and IPython's frames keep only what they held themselves
    for index, file in enumerate(nodes["file"]):
        if "IPython" in strings[file] or "ipykernel" in strings[file]:
            assert nodes["bytes"][index] < held / 10, strings[nodes["function"][index]]
    # --all-frames keeps them: the cell's frame lies deep under the kernel's
    data = flame_data_of(notebook.html_outputs("all_frames")[0])
    (module,) = cell_nodes(data, "<module>", 1)
    depth, node = 0, module
    while node:
        node, depth = data["nodes"]["parent"][node], depth + 1
    assert depth > 10
    assert data["nodes"]["bytes"][module] == bytearray_bytes(5_000_000)


def test_flamegraph_keeps_page_and_capture_when_asked(notebook, tmp_path):
    page = notebook.paths["page"].read_text(encoding="utf-8")
    (output,) = notebook.html_outputs("hold")
    assert html.unescape(re.search(r'srcdoc="([^"]*)"', output).group(1)) == page
    # the kept capture is a capture like any other
    report = check(memlyze("table", "-n", "1", notebook.paths["capture"], cwd=tmp_path)).stdout
    held = fmt.human_bytes(bytearray_bytes(1_000_000, 50))
    assert re.search(rf"{re.escape(held)} .* {re.escape('hold_blocks')} "
                     rf"\S+:{HOLD_LINE}\n", report), report


def test_flamegraph_leaks_selects_what_the_cell_kept(notebook):
    (output,) = notebook.html_outputs("leaks")
    data = flame_data_of(output)
    assert data["meta"]["selection"] == "leaks"
    kept = bytearray_bytes(3_000_000, 4)
    assert nodes_at(data, "keep_buffers", KEEP_LINE) == [
        (kept, 4 * BYTEARRAY_ALLOCATIONS, kept)]
    # the churn was freed: no leak there (at the peak it would show 8 MB)
    assert nodes_at(data, "churn", CHURN_LINE) == []


def test_summary_shows_the_cells_top_location(notebook, tmp_path):
    assert notebook.statuses["summary"] == "ok"
    text = notebook.streams("summary", "stdout")
    filled = bytearray_bytes(2_000_000, 10)
    lines = text.splitlines()
    assert lines[0].startswith("memlyze summary of the cell: peak ")
    assert "Top " in text
    first_row = next(line for line in lines if line.strip().startswith(fmt.human_bytes(filled)))
    assert first_row.split()[3] == str(10 * BYTEARRAY_ALLOCATIONS)  # bytes (2 words), %, count
    # the cell named as the notebook numbers it
    assert first_row.endswith(f" fill Cell In[{notebook.counts['summary']}]:{FILL_LINE}"), first_row
    # exact bytes, from the capture -o kept
    result = check(memlyze("stats", "--json", notebook.paths["summary_capture"], cwd=tmp_path))
    top = json.loads(result.stdout)["top_by_peak"][0]
    assert (top["function"], top["line"], top["bytes"]) == ("fill", FILL_LINE,
                                                            filled)


def test_bad_options_are_one_line_and_the_cell_does_not_run(notebook):
    for name, expected in (("bad_option", "UsageError: %%memlyze_flamegraph: unrecognized "
                                          "arguments: --bogus"),
                           ("bad_value", "UsageError: %%memlyze_summary: argument "
                                         "--sample-interval: ")):
        outputs = notebook.outputs[name]
        assert [output["output_type"] for output in outputs] == ["stream"], outputs
        text = notebook.streams(name, "stderr")
        assert text.count("\n") == 1 and text.startswith(expected), text
        assert "Traceback" not in text
        assert notebook.statuses[name] == "error"  # a notebook run stops at it
    assert notebook.streams("after_bad", "stdout") == "False False\n"
    # an existing -o file without -f: refused before the cell runs
    text = notebook.streams("existing_output", "stderr")
    assert text.count("\n") == 1 and text.endswith("exists; use -f to overwrite it\n"), text
    assert notebook.statuses["existing_output"] == "error"
    # a tracker of the user's own already runs: one line, the cell does not run
    assert notebook.streams("inside_own_tracker", "stderr") == (
        "UsageError: cannot start tracking the cell: a memlyze tracker is already running in "
        "this process\n")
    assert notebook.statuses["inside_own_tracker"] == "error"
    assert notebook.streams("stop_own_tracker", "stdout") == "False\n"


def test_cell_exception_fails_the_cell_once_and_still_reports(notebook):
    assert notebook.statuses["raising"] == "error"
    errors = [output for output in notebook.outputs["raising"] if output["output_type"] == "error"]
    assert [(error["ename"], error["evalue"]) for error in errors] == [
        ("ValueError", "boom in the cell")]
    text = notebook.streams("raising", "stdout")
    # tracking stopped where the cell raised: the traceback's formatting is
    # not the cell's, the bytearray before the raise is among its top
    # locations (IPython's own parsing of the cell, which the kernel runs
    # too, may hold a tokenizer buffer as large at that moment on 3.13)
    lines = text.splitlines()
    table = lines[next(index for index, line in enumerate(lines) if "-----" in line) + 1:]
    [row] = [line for line in table
             if line.endswith(f" <module> Cell In[{notebook.counts['raising']}]:1")]
    assert row.split()[0:2] == fmt.human_bytes(bytearray_bytes(1_000_000)).split(), text
    for formatting in ("importlib", "pygments", "ultratb", "stack_data", "traceback.py"):
        assert formatting not in text, text
    assert notebook.streams("after_raising", "stdout") == "after 1000000\n"


def test_recording_options_reach_the_tracker(notebook):
    assert notebook.statuses["options"] == "ok"
    assert "Sampled capture" in notebook.streams("options", "stdout")
    with memlyze_package.FileReader(notebook.paths["options_capture"]) as reader:
        header = reader.metadata
    assert header["native"] is True
    assert header["python_allocators"] is True
    assert header["sample_interval"] == 64 * 1024


def test_flame_graphs_render_inline_in_chromium_without_clashing(notebook, tmp_path):
    from flame_browser import browser_context, open_page

    outputs = notebook.html_outputs("hold") + notebook.html_outputs("leaks")
    assert len(outputs) == 2
    wrapper = tmp_path / "outputs.html"
    wrapper.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><title>cells</title>"
                       "</head><body>" + "".join(f"<div class='cell'>{output}</div>"
                                                 for output in outputs) + "</body></html>",
                       encoding="utf-8")
    expected = [("hold_blocks", HOLD_LINE, bytearray_bytes(1_000_000, 50)),
                ("keep_buffers", KEEP_LINE, bytearray_bytes(3_000_000, 4))]
    with browser_context() as context:
        loaded = open_page(context, wrapper, ready=None)
        page = loaded.page
        frames = [page.locator("iframe.memlyze-flamegraph").nth(index).element_handle()
                  .content_frame() for index in range(2)]
        for frame, (function, line, nbytes) in zip(frames, expected):
            frame.wait_for_selector("html[data-ready=true]", timeout=15_000)
            state = frame.evaluate("memlyzeFlame.state()")
            assert state["nodeCount"] > 1 and state["canvas"]["rows"] > 1
            # the widest leaf: the cell's workload, at its line
            top = frame.evaluate(WIDEST_LEAF)
            assert (top["function"], top["line"], top["bytes"]) == (function, line, nbytes)
            assert top["file"].startswith("Cell In[")
            rect = frame.evaluate(f"memlyzeFlame.nodeRect({top['index']})")
            root = frame.evaluate("memlyzeFlame.nodeRect(0)")
            assert rect["width"] / root["width"] == pytest.approx(nbytes / state["totalBytes"],
                                                                  abs=0.01)
            assert function in frame.text_content("#frame-list")
            # each page is its own document: the other graph's workload is not in it
            other = [name for name, _, _ in expected if name != function][0]
            assert frame.evaluate(f"memlyzeFlame.findNodes({json.dumps(other)})") == []
        assert loaded.problems() == [], loaded.problems()
        assert loaded.requests == [loaded.url]
        page.close()
