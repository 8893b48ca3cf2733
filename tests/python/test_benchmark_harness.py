"""Smoke test of the overhead benchmark's harness (benchmarks/overhead.py):
two benchmarks, one run each, plain Python and memlyze only, with the
interpreter running the tests (where memlyze is installed) instead of the
benchmark environment, which is never created here. Also checks that a
configuration which records nothing is rejected rather than timed, and
that the in-process pyperformance runner drives a pyperf-style benchmark
without spawning workers."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
OVERHEAD = BENCHMARKS / "overhead.py"


@pytest.fixture(scope="module")
def overhead():
    """benchmarks/overhead.py imported as a module (with its harness package)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("memlyze_bench_overhead", OVERHEAD)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_overhead_smoke_run_writes_table_and_json(tmp_path):
    prefix = tmp_path / "overhead"
    completed = subprocess.run(
        [sys.executable, str(OVERHEAD), "--python", sys.executable, "--no-install",
         "--configurations", "python,memlyze", "--benchmarks", "allocation_heavy,numpy_heavy",
         "--runs", "1", "--scale", "0.1", "--output-prefix", str(prefix)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    expected = ["allocation_heavy"]
    if importlib.util.find_spec("numpy") is not None:
        expected.append("numpy_heavy")
    else:
        assert "skipping benchmark numpy_heavy" in completed.stdout

    report = Path(f"{prefix}.md").read_text()
    assert "| memlyze | " in report and "Geometric mean" in report
    for name in expected:
        assert f"| {name} | " in report
    assert "REJECTED" not in report

    raw = json.loads(Path(f"{prefix}.json").read_text())
    assert raw["context"]["configurations"] == ["python", "memlyze"]
    assert raw["context"]["machine"]["nproc"] >= 1
    for name in expected:
        result = raw["results"][name]
        assert result["rejected"] == {}
        for configuration in ("python", "memlyze"):
            samples = result["samples"][configuration]
            for measure in ("wall", "cpu", "workload_wall", "workload_cpu"):
                assert len(samples[measure]) == 1
            # The runner's own window lies inside the process's lifetime.
            assert 0 < samples["workload_wall"][0] < samples["wall"][0]
            assert 0 < samples["workload_cpu"][0] <= samples["cpu"][0] + 0.01
        assert result["recorded"]["memlyze"]["allocations"] >= 1000
    for measure in ("wall", "workload_wall", "workload_cpu"):
        (ratio, low, high), = [row[measure] for row in raw["summary"]
                               if row["benchmark"] == "allocation_heavy"]
        assert ratio > 0 and low <= ratio <= high
    assert "workload wall ratio" in report and "process wall ratio" in report
    if importlib.util.find_spec("matplotlib") is not None:
        assert Path(f"{prefix}.png").stat().st_size > 0


def tiny_benchmark(tmp_path, minimum_allocations=10**7):
    """A benchmark of next to no work, run through the shared runner."""
    from harness.benchmark_set import RUNNER, Benchmark

    script = tmp_path / "tiny.py"
    script.write_text("import sys; print(sum(range(int(sys.argv[1]))))\n")
    return Benchmark("tiny", RUNNER, lambda size: [str(size), str(script)], 10,
                     minimum_allocations=minimum_allocations)


def test_configuration_that_records_nothing_is_rejected(overhead, tmp_path):
    from harness.configurations import CONFIGURATIONS, Configuration

    tiny = tiny_benchmark(tmp_path)
    # Claims a memlyze capture but runs plain Python: no capture is written.
    silent = Configuration("fake-silent", CONFIGURATIONS["python"].build_command, ".mlyze",
                           CONFIGURATIONS["memlyze"].count_allocations)
    with pytest.raises(overhead.RecordingError, match="no capture was written"):
        overhead.run_once(tiny, silent, sys.executable, tmp_path, 1.0, count=True)
    # Really records, but far fewer allocations than the benchmark must make.
    with pytest.raises(overhead.RecordingError, match="capture holds only"):
        overhead.run_once(tiny, CONFIGURATIONS["memlyze"], sys.executable, tmp_path, 1.0,
                         count=True)
    # Should print `run_under recorded: N` and does not.
    mute = Configuration("fake-mute", CONFIGURATIONS["python"].build_command,
                         stderr_recorded=True)
    with pytest.raises(overhead.RecordingError, match="did not report what it recorded"):
        overhead.run_once(tiny, mute, sys.executable, tmp_path, 1.0, count=True)
    # A script run around the runner would not be timed from inside.
    untimed = Configuration("fake-untimed", lambda python, script, arguments, capture:
                            [str(python), "-c", "pass"])
    with pytest.raises(overhead.RecordingError, match="did not report its timing"):
        overhead.run_once(tiny, untimed, sys.executable, tmp_path, 1.0, count=True)


def run_with_configuration(overhead, monkeypatch, configuration, prefix):
    """The harness's exit status for one run of allocation_heavy under plain
    Python and configuration (registered for the test), reports at prefix."""
    from harness import configurations

    monkeypatch.setitem(configurations.CONFIGURATIONS, configuration.name, configuration)
    monkeypatch.setitem(overhead.CONFIGURATIONS, configuration.name, configuration)
    return overhead.main(["--python", sys.executable, "--no-install", "--configurations",
                          f"python,{configuration.name}", "--benchmarks", "allocation_heavy",
                          "--runs", "1", "--scale", "0.05", "--output-prefix", str(prefix)])


def test_crashing_peer_is_reported_without_failing_the_run(overhead, tmp_path, monkeypatch):
    from harness import configurations

    def crash(python, script, arguments, capture):
        return [str(python), "-c", "import os; os.abort()"]
    crashing = configurations.Configuration("fake-crashing-peer", crash, stderr_recorded=True,
                                            description="aborts", peer=True)
    assert run_with_configuration(overhead, monkeypatch, crashing, tmp_path / "peer") == 0
    report = (tmp_path / "peer.md").read_text()
    assert "fake-crashing-peer (peer profiler): fake-crashing-peer: killed by SIGABRT" in report


def test_harness_reports_rejection_and_fails(overhead, tmp_path, monkeypatch):
    from harness import configurations

    silent = configurations.Configuration(
        "fake-silent", configurations.CONFIGURATIONS["python"].build_command, ".mlyze",
        configurations.CONFIGURATIONS["memlyze"].count_allocations, description="records nothing")
    assert run_with_configuration(overhead, monkeypatch, silent, tmp_path / "rejected") == 1
    report = (tmp_path / "rejected.md").read_text()
    assert "REJECTED" in report and "no capture was written" in report
    assert "| fake-silent | 0 | REJECTED everywhere |" in report  # no geometric mean for it


def test_pyperformance_runner_runs_in_process(tmp_path):
    directory = tmp_path / "bm_fake"
    directory.mkdir()
    (directory / "run_benchmark.py").write_text(textwrap.dedent("""
        import os, pyperf
        calls = []
        def work(n):
            calls.append(n)
        def timed(loops):
            started = pyperf.perf_counter()
            for _ in range(loops):
                calls.append("timed")
            return pyperf.perf_counter() - started
        if __name__ == "__main__":
            runner = pyperf.Runner()
            runner.argparser.add_argument("mode")
            options = runner.parse_args()
            runner.bench_func("fake", work, options.mode)
            runner.bench_time_func("fake-timed", timed)
            print(os.getpid(), calls.count(options.mode), calls.count("timed"))
    """))
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "harness" / "pyperformance_runner.py"),
         "--benchmarks-directory", str(tmp_path), "7", "bm_fake", "quick"],
        capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    pid, plain_calls, timed_calls = completed.stdout.split()
    assert (plain_calls, timed_calls) == ("7", "7")
    assert re.search(r"^runner timing: wall=[0-9.]+ cpu=[0-9.]+$", completed.stderr, re.MULTILINE)
