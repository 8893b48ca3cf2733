"""What the CLI says it did, through the real front ends (issue 14, items 5,
6, 8, 9, 13, 14): one overwrite rule for every writer, no silent outputs,
both sides of a diff, what an --aggregate capture cannot show, the progress
line on a terminal (and nothing on a pipe), and the cosmetic fixes."""

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (MEMLYZE, REPO, assert_one_line_error, bytearray_bytes, check, clean_env,
                      memlyze, stats_json, write_script)

EXISTS = "already exists (use -f/--force to overwrite it)"

SNAPSHOTS = """
import sys
import memlyze

size = int(sys.argv[2])
with memlyze.Tracker(sys.argv[1], force=True) as tracker:
    first = [bytearray(size) for _ in range(10)]  # first
    tracker.snapshot()
    second = [bytearray(size) for _ in range(20)]  # second
    tracker.snapshot()
"""

EARLY_PEAK = """
import time
held = [bytearray(100_000) for _ in range(100)]
del held
time.sleep(0.4)
"""


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    """Two captures with snapshots, of 10 + 20 blocks of 100,000 and 300,000 bytes."""
    directory = tmp_path_factory.mktemp("cli_messages")
    script = write_script(directory, "snapshots.py", SNAPSHOTS)
    small, large = directory / "small.mlyze", directory / "large.mlyze"
    for path, size in ((small, 100_000), (large, 300_000)):
        check(subprocess.run([sys.executable, script, path, str(size)], cwd=directory,
                             env=clean_env(), capture_output=True, text=True, timeout=60))
    return directory, small, large


@pytest.fixture(scope="module")
def aggregate_capture(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli_aggregate")
    script = write_script(directory, "early_peak.py", EARLY_PEAK)
    capture = directory / "early.mlyze"
    check(memlyze("run", "-o", capture, "--aggregate", "--aggregate-interval", "0.05", script,
                  cwd=directory))
    return directory, capture


def process_log(directory: Path, name: str = "run.jsonl") -> Path:
    log = directory / name
    if not log.exists():
        check(subprocess.run([sys.executable, "-m", "memlyze.process", "--interval", "0.05",
                              "-o", log, "--", sys.executable, "-c", "import time; time.sleep(0.3)"],
                             cwd=directory, env=clean_env(), capture_output=True, text=True,
                             timeout=60))
    return log


# --- item 8: one overwrite rule -----------------------------------------------------------

WRITERS = {
    "table --html": lambda capture, out: ["table", "--html", "-o", out, capture],
    "table": lambda capture, out: ["table", "-o", out, capture],
    "export csv": lambda capture, out: ["export", "--format", "csv", "-o", out, capture],
    "export pprof": lambda capture, out: ["export", "--format", "pprof", "-o", out, capture],
    "diff --html": lambda capture, out: ["diff", "--html", "-o", out, capture, capture],
    "flamegraph": lambda capture, out: ["flamegraph", "-o", out, capture],
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_report_writer_refuses_an_existing_file_without_force(captures, writer):
    directory, small, _ = captures
    output = directory / f"existing-{writer.replace(' ', '_')}.out"
    output.write_text("keep me")
    refused = memlyze(*WRITERS[writer](small, output), cwd=directory)
    assert_one_line_error(refused)
    assert refused.stderr.strip() == f"memlyze: error: {output} {EXISTS}"
    assert output.read_text() == "keep me"
    check(memlyze(*WRITERS[writer](small, output), "-f", cwd=directory))
    assert output.read_bytes() != b"keep me"


def test_plot_refuses_an_existing_image_without_force(captures):
    directory, _, _ = captures
    log = process_log(directory)
    image = directory / "existing.png"
    image.write_text("keep me")
    refused = memlyze("plot", log, "-o", image, cwd=directory)
    assert_one_line_error(refused)
    assert EXISTS in refused.stderr and image.read_text() == "keep me"
    written = check(memlyze("plot", log, "-o", image, "--force", cwd=directory))
    assert image.read_bytes().startswith(b"\x89PNG")
    assert written.stdout.startswith(f"Wrote {image}: ")


def test_process_monitor_refuses_an_existing_log_and_overwrites_with_force(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text("keep me")
    marker = tmp_path / "ran"
    command = [sys.executable, "-m", "memlyze.process", "-o", log, "--", sys.executable, "-c",
               f"open({str(marker)!r}, 'w').close()"]
    refused = subprocess.run(command, cwd=tmp_path, env=clean_env(), capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"memlyze.process: error: {log} {EXISTS}"
    assert log.read_text() == "keep me" and not marker.exists()  # the command never ran
    forced = subprocess.run(command[:3] + ["-f"] + command[3:], cwd=tmp_path, env=clean_env(),
                            capture_output=True, text=True, timeout=60)
    assert forced.returncode == 0, forced.stderr
    assert marker.exists()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[0]["format"] == "memlyze-process"
    samples = sum(1 for record in records if record["kind"] == "sample")
    noun = "sample" if samples == 1 else "samples"  # item 14: never "1 samples"
    assert f"memlyze.process: {samples:,} {noun} in {log}" in forced.stderr


def test_record_uses_the_same_overwrite_message(tmp_path):
    capture = tmp_path / "taken.mlyze"
    capture.write_text("keep me")
    refused = memlyze("run", "-o", capture, "-c", "pass", cwd=tmp_path)
    assert_one_line_error(refused)
    assert refused.stderr.strip() == f"memlyze: error: {capture} {EXISTS}"


# --- item 9: no silent outputs --------------------------------------------------------------

def test_run_without_output_says_where_the_capture_went(tmp_path):
    script = write_script(tmp_path, "hello.py", "print('hello')\n")
    result = check(memlyze("run", script, cwd=tmp_path))
    assert result.stdout == "hello\n"  # the program's own output is unchanged
    found = re.fullmatch(r"memlyze: writing the capture to (memlyze-hello\.py\.\d+\.mlyze) "
                         r"\(then: memlyze summary \1\)\n", result.stderr)
    assert found, result.stderr
    assert (tmp_path / found.group(1)).stat().st_size > 0
    named = check(memlyze("run", "-o", tmp_path / "named.mlyze", script, cwd=tmp_path))
    assert named.stderr == ""  # the user named the file: nothing to add


def test_record_of_a_program_that_is_no_python_says_so(tmp_path):
    capture = tmp_path / "x.mlyze"
    true = "/bin/true" if os.path.exists("/bin/true") else "/usr/bin/true"
    result = check(memlyze("record", "-o", capture, true, cwd=tmp_path))
    assert result.stderr == (f"memlyze: warning: {true} is not a Python interpreter: {capture} "
                             "stays without events unless it starts a Python process\n")
    summary = check(memlyze("summary", capture, cwd=tmp_path))
    assert summary.stderr == (f"memlyze: warning: {capture}: capture is truncated: no Python "
                              "process recorded into it (the command started none, or was killed "
                              "before memlyze's tracker started)\n")
    python_run = check(memlyze("record", "-o", tmp_path / "y.mlyze", sys.executable, "-c", "pass",
                               cwd=tmp_path))
    assert python_run.stderr == ""


@pytest.mark.parametrize("command", ["flamegraph", "table --html", "export csv"])
def test_a_selection_that_matches_nothing_says_so(captures, command):
    directory, small, _ = captures
    output = directory / f"nothing-{command.replace(' ', '_')}.out"
    arguments = WRITERS[command](small, output)
    empty = check(memlyze(*arguments, "-f", "--include", "zzz*", cwd=directory))
    assert "memlyze: warning: the selection matched no allocation with --include 'zzz*': " \
        in empty.stderr
    assert f"in {output} is empty" in empty.stderr
    matched = check(memlyze(*arguments, "-f", "--include", "<module>", cwd=directory))
    assert "matched no allocation" not in matched.stderr


# --- item 6: diff ----------------------------------------------------------------------------

def test_diff_shows_both_peaks_and_takes_snapshot(captures):
    directory, small, large = captures
    peaks = [stats_json(path, directory)["peak_bytes"] for path in (small, large)]
    assert peaks[1] > 2 * peaks[0]
    text = check(memlyze("diff", small, large, cwd=directory)).stdout.splitlines()
    from memlyze.formatting import human_bytes

    assert text[1].startswith(f"A: {small}: memory held at the peak ({human_bytes(peaks[0])} at ")
    assert text[2].startswith(f"B: {large}: memory held at the peak ({human_bytes(peaks[1])} at ")
    # --snapshot 1: the 10 first blocks of each side, 100,000 then 300,000 bytes.
    first = check(memlyze("diff", "--snapshot", "1", small, large, cwd=directory)).stdout
    growth = bytearray_bytes(300_000, 10) - bytearray_bytes(100_000, 10)
    assert "memory held at snapshot 1 of 2" in first
    change = next(line for line in first.splitlines() if "snapshots.py" in line)
    assert change.lstrip().startswith("+" + human_bytes(growth) + " "), first
    second = check(memlyze("diff", "--snapshot", "2", small, large, cwd=directory)).stdout
    assert "+" + human_bytes(2 * growth) in second  # the 20 second blocks grew twice as much
    missing = memlyze("diff", "--snapshot", "3", small, large, cwd=directory)
    assert_one_line_error(missing)
    assert "capture has 2 snapshots; --snapshot 3 does not exist" in missing.stderr


# --- item 5: aggregate captures ----------------------------------------------------------------

def test_aggregate_capture_keeps_the_peak_time_and_says_what_it_lacks(aggregate_capture):
    directory, capture = aggregate_capture
    stats = stats_json(capture, directory)
    assert stats["duration_s"] > 0.4
    assert stats["peak_time_s"] < stats["duration_s"] - 0.3  # not put at the end of the run
    assert stats["peak_bytes"] >= bytearray_bytes(100_000, 100)
    assert stats["gc_collections"] is None and stats["gc"] is None  # unknown, not 0
    lacks = "Aggregated capture (--aggregate): per-stack totals only"
    assert lacks in check(memlyze("summary", capture, cwd=directory)).stdout
    for command in (["table"], ["tree", "--plain"], ["export", "--format", "csv"]):
        assert lacks in check(memlyze(*command, capture, cwd=directory)).stderr, command
    page = directory / "page.html"
    assert lacks in check(memlyze("flamegraph", "-o", page, capture, cwd=directory)).stdout
    refused = memlyze("flamegraph", "-f", "--temporal", "-o", page, capture, cwd=directory)
    assert_one_line_error(refused)
    assert "--temporal (when each allocation was made and freed) is not available" \
        in refused.stderr
    assert_one_line_error(memlyze("table", "--temporary", capture, cwd=directory))


def test_aggregate_page_says_aggregated_in_chromium(aggregate_capture):
    from flame_browser import browser_context, open_page

    directory, capture = aggregate_capture
    page_path = directory / "browser.html"
    check(memlyze("flamegraph", "-f", "-o", page_path, capture, cwd=directory))
    with browser_context() as context:
        loaded = open_page(context, page_path)
        page = loaded.page
        caption = page.text_content("#chart-caption")
        facts = page.text_content("#facts")
        note = page.text_content("#truncation-note")
        assert loaded.problems() == []
    assert "garbage collection" not in caption and "aggregated capture" in caption
    assert "full capture" not in facts and "aggregated" in facts
    assert "Aggregated capture (--aggregate)" in note


# --- item 13: progress on a terminal, nothing on a pipe --------------------------------------

def run_on_terminal(arguments, cwd, env) -> bytes:
    """Runs memlyze with stdout and stderr on a pseudo-terminal; its output."""
    pid, descriptor = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.execve(sys.executable, [*MEMLYZE, *map(str, arguments)], env)
    output = b""
    while True:
        try:
            data = os.read(descriptor, 65536)
        except OSError:
            break
        if not data:
            break
        output += data
    os.waitpid(pid, 0)
    os.close(descriptor)
    return output


@pytest.mark.parametrize("command", [["summary"], ["table"]])
def test_progress_line_on_a_terminal_is_drawn_then_erased(captures, command):
    directory, _, large = captures
    size = large.stat().st_size
    env = clean_env(MEMLYZE_PROGRESS_AFTER="0")
    output = run_on_terminal([*command, large], directory, env).decode()
    from memlyze.formatting import human_bytes

    drawn = re.search(r"\r\x1b\[Kreading capture: (\S+ \S+) of (\S+ \S+) \((\d+)%\), \S+ \S+/s"
                      r"[^\r]*\r\x1b\[K", output)
    assert drawn, repr(output[:300])
    assert drawn.group(2) == human_bytes(size)
    assert output.index("\r\x1b[K") < output.index(str(large))  # erased before the report
    # The default waits a second: a pass this short draws nothing.
    quiet = run_on_terminal([*command, large], directory, clean_env()).decode()
    assert "reading capture" not in quiet


def test_no_progress_on_a_pipe(captures):
    directory, small, _ = captures
    for command in (["summary"], ["stats"], ["table"], ["tree"]):
        result = check(memlyze(*command, small, cwd=directory,
                               env=clean_env(MEMLYZE_PROGRESS_AFTER="0")))
        assert result.stderr == "", command


def test_progress_line_figures_and_redraw_rate():
    import io

    from memlyze.formatting import human_duration
    from memlyze.reports.progress import TerminalProgress

    now = [0.0]
    stream = io.StringIO()
    progress = TerminalProgress("reading capture", stream=stream, delay=1.0,
                                clock=lambda: now[0])
    mebibyte = 2**20
    for step in range(1, 301):  # 3 s of calls every 10 ms
        now[0] = step / 100
        progress(step * mebibyte // 2, 300 * mebibyte)
    draws = stream.getvalue().split("\r\x1b[K")[1:]
    assert 18 <= len(draws) <= 21  # nothing in the first second, then at most 10 a second
    assert draws[0] == progress.line(50 * mebibyte, 300 * mebibyte, 1.0)  # at 1 s exactly
    line = progress.line(50 * mebibyte, 100 * mebibyte, 2.0)
    assert line == f"reading capture: 50.0 MiB of 100.0 MiB (50%), 25.0 MiB/s, {human_duration(2.0)} left"
    progress.finish()
    assert stream.getvalue().endswith("\r\x1b[K") and not progress.shown


# --- item 14: cosmetic -------------------------------------------------------------------------

def test_process_help_has_no_doubled_percent():
    result = subprocess.run([sys.executable, "-m", "memlyze.process", "--help"],
                            capture_output=True, text=True, env=clean_env(), timeout=60)
    assert result.returncode == 0
    assert "CPU%" in result.stdout and "%%" not in result.stdout


def test_plot_legend_names_the_cpu_line(captures):
    directory, _, _ = captures
    image = directory / "legend.svg"
    check(memlyze("plot", process_log(directory), "-f", "-o", image, cwd=directory))
    svg = image.read_text()
    legend = svg[svg.index('<g id="legend_1">'):]
    assert "<!-- RSS -->" in legend and "<!-- CPU % -->" in legend


def test_truncation_warning_is_worded_alike_everywhere(tmp_path):
    capture = tmp_path / "cut.mlyze"
    # SIGKILL: the one death that leaves a capture without its footer
    script = write_script(tmp_path, "cut.py", "import os, signal, time\nx = bytearray(1000)\n"
                          "time.sleep(0.2)\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert memlyze("run", "-o", capture, script, cwd=tmp_path).returncode == -9
    lines = set()
    for command in (["summary"], ["stats"], ["table"], ["flamegraph", "-o", tmp_path / "p.html"]):
        stderr = check(memlyze(*command, capture, cwd=tmp_path)).stderr
        warning = [line for line in stderr.splitlines() if "truncated" in line]
        assert len(warning) == 1, (command, stderr)
        lines.add(warning[0])
    assert len(lines) == 1, lines
    assert lines.pop().startswith(f"memlyze: warning: {capture}: capture is truncated: ")


def test_readme_names_the_record_fields():
    from memlyze.file_reader import Record

    readme = (REPO / "README.md").read_text()
    line = next(line for line in readme.splitlines() if "reader.records()" in line)
    assert line.split("fields: ", 1)[1].split(", ") == list(Record._fields)


def test_counts_of_one_are_singular(tmp_path):
    capture = tmp_path / "empty.mlyze"
    true = "/bin/true" if os.path.exists("/bin/true") else "/usr/bin/true"
    check(memlyze("record", "-o", capture, true, cwd=tmp_path))
    page = check(memlyze("flamegraph", "-o", tmp_path / "one.html", capture, cwd=tmp_path))
    assert ": 1 frame, " in page.stdout  # the root alone
    from memlyze.formatting import counted

    assert [counted(1, "sample"), counted(2, "sample"), counted(1234, "allocation")] == \
        ["1 sample", "2 samples", "1,234 allocations"]


def test_progress_line_fits_the_terminal_width():
    import io

    from memlyze.reports.progress import TerminalProgress

    class NarrowTerminal(io.StringIO):
        def fileno(self):
            return master

    master, slave = pty.openpty()
    try:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 40, 0, 0))
        stream = NarrowTerminal()
        progress = TerminalProgress("reading capture", stream=stream, delay=0.0)
        progress(10 * 2**20, 300 * 2**20)
        drawn = stream.getvalue().removeprefix("\r\x1b[K")
        assert len(drawn) == 39 and drawn.startswith("reading capture: 10.0 MiB of 300.0")
    finally:
        os.close(master)
        os.close(slave)
