"""memlyze export: pprof read by `go tool pprof`, speedscope validated against
speedscope's published schema, collapsed stacks, CSV and JSON."""

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from conftest import HOLD_BYTES, LEAK_BYTES, assert_close, assert_one_line_error, check, memlyze

SCHEMA = Path(__file__).parent / "data" / "speedscope-file-format-schema.json"


def go_pprof_top(profile: Path, sample_index: str, cwd) -> str:
    go = shutil.which("go")
    assert go, "Go is needed for the pprof test (go tool pprof reads the export)"
    environment = dict(os.environ, GOFLAGS="-mod=mod", GOTOOLCHAIN="local", GOPROXY="off")
    result = subprocess.run([go, "tool", "pprof", f"-sample_index={sample_index}", "-top",
                             str(profile)], cwd=cwd, env=environment, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


def first_function(top_output: str) -> str:
    """The function of the first row of `pprof -top` (largest flat)."""
    lines = top_output.splitlines()
    header = next(index for index, line in enumerate(lines) if line.strip().startswith("flat"))
    return lines[header + 1].split()[-1]


def test_pprof_top_function_matches_summary(ground_truth):
    directory, script, capture, stats = ground_truth
    profile = directory / "workload.pb.gz"
    check(memlyze("export", capture, "--format", "pprof", "-o", profile, cwd=directory))
    assert profile.read_bytes()[:2] == b"\x1f\x8b"
    top = go_pprof_top(profile, "inuse_space", directory)
    summary = check(memlyze("summary", "-n", "1", capture, cwd=directory)).stdout
    summary_top = stats["top_by_peak"][0]["function"]
    assert summary_top == "hold" and f"hold {script}" in summary
    assert first_function(top) == summary_top
    assert "Type: inuse_space" in top
    assert "(module)" in top  # pprof would strip a name written as <module>
    allocated = go_pprof_top(profile, "alloc_space", directory)
    assert {"hold", "churn", "leak"} <= {line.split()[-1] for line in allocated.splitlines()
                                         if line.strip()}


def test_speedscope_validates_against_the_schema(ground_truth):
    directory, script, capture, stats = ground_truth
    output = directory / "workload.speedscope.json"
    check(memlyze("export", capture, "--format", "speedscope", "-o", output, cwd=directory))
    document = json.loads(output.read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    profile = document["profiles"][0]
    assert profile["type"] == "sampled" and profile["unit"] == "bytes"
    assert len(profile["samples"]) == len(profile["weights"])
    assert sum(profile["weights"]) == profile["endValue"] == stats["peak_bytes"]
    frames = document["shared"]["frames"]
    heaviest = profile["samples"][profile["weights"].index(max(profile["weights"]))]
    assert frames[heaviest[-1]]["name"] == "hold"  # innermost last
    assert frames[heaviest[0]]["name"] == "<module>"


def test_collapsed_sums_to_the_total(ground_truth):
    directory, script, capture, stats = ground_truth
    result = check(memlyze("export", capture, "--format", "collapsed", cwd=directory))
    lines = result.stdout.splitlines()
    assert sum(int(line.rsplit(" ", 1)[1]) for line in lines) == stats["peak_bytes"]
    hold = [line for line in lines if ";hold (" in line]
    assert hold and hold[0].startswith("<module> (")
    leaks = check(memlyze("export", capture, "--format", "collapsed", "--leaks", cwd=directory))
    assert sum(int(line.rsplit(" ", 1)[1]) for line in leaks.stdout.splitlines()) == \
        stats["leaked_bytes"]


def test_csv_and_json(ground_truth):
    directory, script, capture, stats = ground_truth
    rows = list(csv.DictReader(io.StringIO(
        check(memlyze("export", capture, "--format", "csv", cwd=directory)).stdout)))
    assert list(rows[0]) == ["function", "file", "line", "bytes", "count", "leaked_bytes",
                             "leaked_count", "total_bytes", "total_count", "peak_bytes",
                             "peak_count"]
    assert rows[0]["function"] == "hold"
    assert_close(int(rows[0]["bytes"]), HOLD_BYTES, 0.01)
    document = json.loads(check(memlyze("export", capture, "--format", "json", "--leaks",
                                        cwd=directory)).stdout)
    assert document["selection"] == "leaks"
    first = document["locations"][0]
    assert first["function"] == "leak" and Path(first["file"]).name == "workload.py"
    assert_close(first["leaked_bytes"], LEAK_BYTES, 0.01)
    assert sum(row["total_bytes"] for row in document["locations"]) == stats["total_bytes"]


@pytest.mark.parametrize("arguments", [
    ["--format", "svg"],
    ["--format", "json", "--snapshot", "99"],
])
def test_bad_arguments_are_one_line_errors(ground_truth, arguments):
    directory, script, capture, stats = ground_truth
    result = memlyze("export", capture, *arguments, cwd=directory)
    assert_one_line_error(result)
    if "99" in arguments:
        assert "capture has 0 snapshots; --snapshot 99 does not exist" in result.stderr
