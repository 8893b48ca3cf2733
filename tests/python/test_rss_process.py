"""python -m memlyze.process, memlyze.process.monitor() and memlyze plot."""

from __future__ import annotations

import json
import struct
import sys
import time

from conftest import assert_one_line_error, check, memlyze, python, write_script
from memlyze import process

MIB = 1024 * 1024

GROWING = """
import time
blocks = []
for _ in range(6):
    blocks.append(b"x".ljust(20 * (1 << 20), b"y"))
    time.sleep(0.06)
time.sleep(0.1)
raise SystemExit(3)
"""


def read_records(path):
    return [json.loads(line) for line in open(path)]


def test_process_module_logs_a_growing_command(tmp_path):
    script = write_script(tmp_path, "grow.py", GROWING)
    log = tmp_path / "run.jsonl"
    result = python("-m", "memlyze.process", "--interval", "0.02", "-o", log, "--",
                    sys.executable, script, cwd=tmp_path)
    assert result.returncode == 3, result.stderr  # the command's status, passed on
    records = read_records(log)
    header, samples, end = records[0], records[1:-1], records[-1]
    assert header["format"] == "memlyze-process" and header["command"][-1] == str(script)
    assert end["kind"] == "end" and end["exit_status"] == 3 and end["samples"] == len(samples)
    assert len(samples) >= 10
    assert all(sample["kind"] == "sample" for sample in samples)
    times = [sample["time"] for sample in samples]
    assert times == sorted(times)
    peak = max(sample["rss"] for sample in samples)
    assert peak >= 110 * MIB  # six 20 MiB blocks
    assert max(sample["rss_peak"] for sample in samples) >= peak
    assert samples[-1]["minor_faults"] >= 110 * MIB // 4096 * 0.9
    assert any((sample["cpu_percent"] or 0) > 0 for sample in samples)


def test_monitor_context_samples_this_process(tmp_path):
    log = tmp_path / "self.jsonl"
    with process.monitor(0.01, log) as running:
        block = b"x".ljust(64 * MIB, b"y")
        time.sleep(0.15)
    records = read_records(running.log_path)
    samples = [record for record in records if record["kind"] == "sample"]
    assert records[0]["pid"] > 0 and len(samples) >= 5
    assert max(sample["rss"] for sample in samples) >= 64 * MIB
    assert len(block) == 64 * MIB


def test_plot_draws_a_png(tmp_path):
    log = tmp_path / "run.jsonl"
    check(python("-m", "memlyze.process", "--interval", "0.02", "-o", log, "--",
                 sys.executable, "-c", "import time; b = bytes(10**7); time.sleep(0.2)",
                 cwd=tmp_path))
    image = tmp_path / "mem.png"
    result = check(memlyze("plot", log, "-o", image, cwd=tmp_path))
    assert "samples" in result.stdout
    header = image.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert width >= 500 and height >= 300


def test_bad_input(tmp_path):
    assert_one_line_error(memlyze("plot", tmp_path / "missing.jsonl", cwd=tmp_path))
    not_a_log = tmp_path / "x.jsonl"
    not_a_log.write_text('{"hello": 1}\n')
    assert_one_line_error(memlyze("plot", not_a_log, cwd=tmp_path))
    result = python("-m", "memlyze.process", "--interval", "0.1", cwd=tmp_path)
    assert result.returncode == 2 and "no command" in result.stderr
    result = python("-m", "memlyze.process", "--", "/nonexistent/command", cwd=tmp_path)
    assert result.returncode == 127 and "cannot run" in result.stderr
