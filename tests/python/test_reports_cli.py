"""memlyze tree, table and diff on ground-truth workloads, escaping in the HTML
pages, and bad input (no allocations, a SIGKILLed capture, missing snapshots)."""

import re
import shutil

from conftest import (HOLD_BYTES, REPO, assert_one_line_error, check, memlyze, python,
                      write_script)


def test_tree_plain_text(ground_truth):
    directory, script, capture, stats = ground_truth
    result = check(memlyze("tree", capture, cwd=directory))  # stdout is a pipe: plain text
    assert result.stderr == ""  # no progress bar on a pipe
    lines = result.stdout.splitlines()
    assert any("<all>" in line and "100.0%" in line for line in lines)
    hold = next(line for line in lines if re.search(r"\bhold\b.*workload\.py:\d+", line))
    main = next(line for line in lines if re.search(r"\bmain\b.*workload\.py", line))
    assert lines.index(main) < lines.index(hold)
    indent = len(hold) - len(hold.lstrip())
    assert indent > len(main) - len(main.lstrip())  # hold is nested under main
    shown = re.search(r"([\d.]+) MiB", hold)  # 200 bytearray(1,000,000) and their list
    assert shown and abs(float(shown.group(1)) - HOLD_BYTES / 2**20) < 0.15, hold
    shallow = check(memlyze("tree", "--max-depth", "1", capture, cwd=directory)).stdout
    assert "hold" not in shallow and "<module>" in shallow
    inverted = check(memlyze("tree", "--inverted", "--leaks", capture, cwd=directory)).stdout
    leak = next(line for line in inverted.splitlines()
                if re.search(r"\bleak\s+\S*workload\.py", line))
    assert len(leak) - len(leak.lstrip()) == 2  # directly below the root


def test_table_text_and_sort(ground_truth):
    directory, script, capture, stats = ground_truth
    text = check(memlyze("table", capture, cwd=directory)).stdout
    rows = [line for line in text.splitlines() if re.search(r"workload\.py:\d+$", line)]
    assert rows[0].split()[-2] == "hold"
    total = check(memlyze("table", "--temporary", "--sort", "count", capture, cwd=directory)).stdout
    assert "churn" in total


def test_table_html_escapes_names(tmp_path):
    source = (
        "code = compile('def evil():\\n    return bytearray(3_000_000)\\nkept = evil()\\n',"
        " '<img src=x onerror=alert(1)>.py', 'exec')\n"
        "exec(code)\n"
    )
    script = write_script(tmp_path, "evil.py", source)
    check(memlyze("run", "-o", "evil.mlyze", script, cwd=tmp_path))
    check(memlyze("table", "--html", "--leaks", "-o", "evil.html", "evil.mlyze", cwd=tmp_path))
    page = (tmp_path / "evil.html").read_text()
    assert "<img src=x" not in page
    # the name travels only in the page's JSON, escaped there
    assert "\\u003cimg src=x onerror=alert(1)\\u003e.py" in page
    assert page.count("<script>") == 1  # only the page's own script (and its data)
    assert "script-src 'sha256-" in page  # no other script can run
    from report_readers import table_page_data

    data = table_page_data(page)
    assert "<img src=x onerror=alert(1)>.py" in data["strings"]


def test_diff_between_captures_and_snapshots(tmp_path):
    script = write_script(tmp_path, "grow.py", """
        import sys
        import memlyze
        kept = []
        def grow(n):
            kept.append(bytearray(n))  # GROW
        def steady():
            kept.append(bytearray(2_000_000))  # STEADY
        with memlyze.Tracker(sys.argv[1] + ".mlyze", force=True) as tracker:
            steady()
            grow(int(sys.argv[2]))
            tracker.snapshot()
            grow(3_000_000)
            tracker.snapshot()
    """)
    for name, first in (("a", 1_000_000), ("b", 5_000_000)):
        check(python(script, name, first, cwd=tmp_path))
    result = check(memlyze("diff", "a.mlyze", "b.mlyze", cwd=tmp_path)).stdout
    changed = [line for line in result.splitlines() if " grow " in f" {line} "]
    assert len(changed) == 1 and "+3.8 MiB" in changed[0]  # 4,000,000 more bytes
    assert not any(" steady " in f" {line} " for line in result.splitlines())
    snapshots = check(memlyze("diff", "b.mlyze", "--from-snapshot", "1", "--to-snapshot", "2",
                              cwd=tmp_path)).stdout
    assert "snapshot 1 -> 2" in snapshots and "+2.9 MiB" in snapshots  # the second grow()
    check(memlyze("diff", "--html", "-o", "diff.html", "a.mlyze", "b.mlyze", cwd=tmp_path))
    assert "grow" in (tmp_path / "diff.html").read_text()
    missing = memlyze("diff", "b.mlyze", "--from-snapshot", "1", "--to-snapshot", "99",
                      cwd=tmp_path)
    assert_one_line_error(missing)
    assert "capture has 2 snapshots; --snapshot 99 does not exist" in missing.stderr
    assert_one_line_error(memlyze("diff", "a.mlyze", cwd=tmp_path))


def test_capture_without_allocations(tmp_path):
    empty = tmp_path / "empty.mlyze"
    shutil.copy(REPO / "fuzz" / "corpus" / "empty.bin", empty)
    for command in (["tree"], ["table"], ["export", "--format", "collapsed"],
                    ["export", "--format", "json"]):
        result = check(memlyze(*command, empty, cwd=tmp_path))
        assert "Traceback" not in result.stderr
    assert "Nothing was selected" in check(memlyze("tree", empty, cwd=tmp_path)).stdout
    check(memlyze("export", empty, "--format", "pprof", "-o", "empty.pb.gz", cwd=tmp_path))


def test_capture_of_a_killed_process(tmp_path):
    script = write_script(tmp_path, "killed.py", """
        import os, signal
        kept = [bytearray(1_000_000) for _ in range(30)]  # KEPT
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    memlyze("run", "-o", "killed.mlyze", script, cwd=tmp_path)
    result = check(memlyze("table", "killed.mlyze", cwd=tmp_path))
    assert "truncated" in result.stderr and "Traceback" not in result.stderr
    check(memlyze("tree", "killed.mlyze", cwd=tmp_path))


def test_bad_input_is_one_line(tmp_path, ground_truth):
    directory, script, capture, stats = ground_truth
    assert_one_line_error(memlyze("tree", tmp_path / "missing.mlyze", cwd=tmp_path))
    assert_one_line_error(memlyze("table", "--snapshot", "99", capture, cwd=directory))
    assert_one_line_error(memlyze("tree", "--thread", "nope", capture, cwd=directory))
    garbage = tmp_path / "garbage.mlyze"
    garbage.write_bytes(b"not a capture at all")
    assert_one_line_error(memlyze("table", garbage, cwd=tmp_path))


def test_interactive_tree_expands_on_demand(ground_truth):
    import asyncio

    from textual.widgets import Tree

    from memlyze.cli.tree import TreeView, make_app
    from memlyze.reports.report_data import open_report

    directory, script, capture, stats = ground_truth
    report = open_report(capture, progress=None)
    view = TreeView(report.tree(), report)

    async def drive():
        app = make_app(view, "test")
        async with app.run_test() as pilot:
            tree = app.query_one(Tree)
            first = tree.root.children[0]
            assert "<module>" in str(first.label) and not first.children
            first.expand()
            await pilot.pause()
            assert any("main" in str(child.label) for child in first.children)
            await pilot.press("q")

    asyncio.run(drive())


def sampled_copy(capture, target):
    """A copy of capture whose header says sample rate 0.5 (the field rewritten
    in place, the header checksum recomputed)."""
    import struct
    import zlib

    data = bytearray(capture.read_bytes())
    size = struct.unpack_from("<I", data, 8)[0]
    block = data[12:12 + size]
    field = bytes([7, 8]) + struct.pack("<d", 1.0)
    at = block.find(field)
    assert at >= 0, "the writer no longer writes the sample rate field"
    block[at + 2:at + 10] = struct.pack("<d", 0.5)
    data[12:12 + size] = block
    struct.pack_into("<I", data, 12 + size, zlib.crc32(bytes(block)))
    target.write_bytes(bytes(data))
    return target


def test_every_report_says_a_capture_is_sampled(ground_truth, tmp_path):
    directory, script, capture, stats = ground_truth
    sampled = sampled_copy(capture, tmp_path / "sampled.mlyze")
    for command in (["tree"], ["table"], ["diff", sampled]):
        result = check(memlyze(*command, sampled, cwd=tmp_path))
        assert "Sampled capture" in result.stdout and "estimates" in result.stdout, command
    check(memlyze("table", "--html", "-o", "t.html", sampled, cwd=tmp_path))
    assert "Sampled capture" in (tmp_path / "t.html").read_text()
    for form in ("collapsed", "json", "csv", "speedscope"):
        result = check(memlyze("export", sampled, "--format", form, cwd=tmp_path))
        assert "Sampled capture" in result.stderr, form
    from memlyze.reports.flame_data import build_flame_data

    meta = build_flame_data(sampled, progress=None)["meta"]
    assert meta["sampled"] and "estimates" in meta["sample_description"]
    plain = build_flame_data(capture, progress=None)["meta"]
    assert not plain["sampled"]
