"""stats (text and --json), summary and the command-line entry points."""

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import (BYTEARRAY_ALLOCATIONS, HOLD_BYTES, REPO, check, clean_env, line_of, memlyze,
                      write_script)

SPEC_KEYS = {
    "format_version": int, "command": str, "pid": int, "python_version": str,
    "duration_s": float, "sampled": bool, "sample_rate": float,
    "sample_interval": (int, type(None)), "total_allocations": int, "total_bytes": int,
    "peak_bytes": int, "peak_time_s": float, "leaked_bytes": int, "leaked_allocations": int,
    "rss_peak_bytes": (int, type(None)), "gc_collections": (int, type(None)),
    "allocators": dict, "size_histogram": list, "top_by_peak": list, "top_by_total": list,
    "top_by_count": list, "top_leaks": list, "tracker_memory_bytes": int,
    "untracked_rss_bytes": (int, type(None)), "gc": (dict, type(None)),
    "total_bytes_ci95": (list, type(None)), "peak_bytes_ci95": (list, type(None)),
}
ALLOCATORS = {"malloc", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
              "memalign", "valloc", "pvalloc", "mmap", "mremap", "pymalloc"}


def test_stats_json_has_every_spec_key(ground_truth):
    directory, script, capture, stats = ground_truth
    for key, kind in SPEC_KEYS.items():
        assert key in stats, key
        if kind is float:
            kind = (int, float)
        assert isinstance(stats[key], kind), (key, stats[key])
    assert stats["format_version"] == 2
    assert stats["sampled"] is False and stats["sample_rate"] == 1.0
    assert stats["total_bytes_ci95"] is None and stats["peak_bytes_ci95"] is None
    assert stats["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert str(script) in stats["command"]
    assert set(stats["allocators"]) <= ALLOCATORS
    for name, figures in stats["allocators"].items():
        assert set(figures) >= {"count", "bytes"}
    for bucket in stats["size_histogram"]:
        assert set(bucket) >= {"min", "max", "count"}
        assert bucket["min"] & (bucket["min"] - 1) == 0  # a power of two (or 0)
    for key in ("top_by_peak", "top_by_total", "top_by_count", "top_leaks"):
        entries = stats[key]
        assert entries, key
        for entry in entries:
            assert set(entry) >= {"function", "file", "line", "bytes", "count"}
        order = "count" if key == "top_by_count" else "bytes"
        assert [e[order] for e in entries] == sorted((e[order] for e in entries), reverse=True)
    assert stats["gc"] is not None
    assert set(stats["gc"]) >= {"collections", "total_pause_s", "by_generation"}
    assert stats["rss_peak_bytes"] >= stats["peak_bytes"] // 2
    assert stats["tracker_memory_bytes"] > 0
    assert stats["duration_s"] > 0


def test_stats_text(ground_truth):
    directory, script, capture, stats = ground_truth
    result = check(memlyze("stats", capture, cwd=directory))
    assert result.stderr == ""
    text = result.stdout
    for heading in ("Duration:", "Allocations:", "Total allocated:", "Peak memory:", "Leaked:",
                    "Allocators:", "Allocation sizes:", "Top locations at the peak",
                    "Top locations by bytes allocated", "Top locations by number of allocations",
                    "Top leaks", "Garbage collection:", "Tracker memory:", "Untracked RSS:"):
        assert heading in text, heading
    assert f"hold {script}:{line_of(script, 'HOLD')}" in text
    assert f"leak {script}:{line_of(script, 'LEAK')}" in text
    assert "malloc" in text and "█" in text


def test_summary_table(ground_truth):
    directory, script, capture, stats = ground_truth
    result = check(memlyze("summary", capture, cwd=directory))
    lines = result.stdout.splitlines()
    header = next(index for index, line in enumerate(lines) if line.split() == [
        "bytes", "%", "count", "location"])
    first = lines[header + 2]
    assert first.endswith(f"hold {script}:{line_of(script, 'HOLD')}")
    assert first.split()[1] == "MiB"  # the blocks and their list
    assert abs(float(first.split()[0]) - HOLD_BYTES / 2**20) < 0.15, first
    assert float(first.split()[2].rstrip("%")) >= 95
    blocks = 200 * BYTEARRAY_ALLOCATIONS
    assert blocks <= int(first.split()[3]) <= blocks + 2
    limited = check(memlyze("summary", "-n", "1", capture, cwd=directory)).stdout
    assert "Top 1 location" in limited
    assert "(all other locations)" in limited


def test_default_output_name_and_pid_expansion(tmp_path):
    write_script(tmp_path, "hello.py", "print('hello')\n")
    process = subprocess.run([sys.executable, "-m", "memlyze", "run", "hello.py"], cwd=tmp_path,
                             env=clean_env(), capture_output=True, text=True, timeout=60)
    assert process.returncode == 0, process.stderr
    created = list(tmp_path.glob("memlyze-hello.py.*.mlyze"))
    assert len(created) == 1
    pid = int(created[0].name.split(".")[-2])
    process = subprocess.Popen([sys.executable, "-m", "memlyze", "run", "-o", "out-{pid}.mlyze",
                                "hello.py"], cwd=tmp_path, env=clean_env(),
                               stdout=subprocess.PIPE, text=True)
    assert process.communicate(timeout=60)[0] == "hello\n"
    capture = tmp_path / f"out-{process.pid}.mlyze"
    assert capture.is_file()
    assert json.loads(check(memlyze("stats", "--json", capture, cwd=tmp_path)).stdout)["pid"] == \
        process.pid
    assert pid > 0


def test_run_module_and_code(tmp_path):
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tool.py").write_text("import sys\nprint('tool', sys.argv[1:])\n")
    result = check(memlyze("run", "-o", "m.mlyze", "-m", "mypkg.tool", "--x", "1", cwd=tmp_path))
    assert result.stdout == "tool ['--x', '1']\n"
    result = check(memlyze("run", "-o", "c.mlyze", "-c", "import sys; print(sys.argv[1:])",
                           "a", "-b", cwd=tmp_path))
    assert result.stdout == "['a', '-b']\n"
    for name in ("m.mlyze", "c.mlyze"):
        check(memlyze("stats", name, cwd=tmp_path))


def test_recording_options_reach_the_capture(tmp_path):
    script = write_script(tmp_path, "deep.py", """
        def recurse(depth):
            if depth == 0:
                return bytearray(5_000_000)
            return recurse(depth - 1)
        kept = recurse(30)
    """)
    check(memlyze("run", "--max-stack-depth", "5", "--no-track-gc", "--rss-interval", "0",
                  "-o", "opts.mlyze", script, cwd=tmp_path))
    import memlyze as package

    reader = package.FileReader(tmp_path / "opts.mlyze")
    assert reader.summary["gc"] is None
    leak = next(item for item in reader.leaks() if item.bytes >= 5_000_000)
    assert len(leak.stack) <= 5
    assert leak.location.function == "recurse"


def test_entry_points():
    assert check(subprocess.run([sys.executable, "-m", "memlyze", "--version"],
                                capture_output=True, text=True)).stdout.startswith("memlyze ")
    script = Path(sys.executable).parent / "memlyze"
    assert script.is_file() and os.access(script, os.X_OK)
    result = check(subprocess.run([str(script), "--help"], capture_output=True, text=True))
    for command in ("record", "run", "summary", "stats"):
        assert command in result.stdout
    for command in ("record", "run", "summary", "stats"):
        check(subprocess.run([str(script), command, "--help"], capture_output=True, text=True))


def test_bundled_example(tmp_path):
    example = REPO / "examples" / "image_cache.py"
    result = check(memlyze("run", "-o", "example.mlyze", example, cwd=tmp_path))
    assert "cached 40 images" in result.stdout
    summary = check(memlyze("summary", "example.mlyze", cwd=tmp_path)).stdout
    assert f"decode {example}:" in summary
    import memlyze as package

    stats = package.FileReader(tmp_path / "example.mlyze").summary
    assert stats["top_by_peak"][0]["function"] == "decode"
    assert stats["top_leaks"][0]["function"] == "remember"
