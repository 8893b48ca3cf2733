"""The pytest plugin (memlyze.pytest_plugin) driven through real pytest
subprocesses over a sample suite whose allocations are known exactly."""

from __future__ import annotations

import json
import re

import pytest

from conftest import BYTEARRAY_ALLOCATIONS, FREE_THREADED, check, clean_env, memlyze
from pytest_plugin_suite import (ARENA_ALLOWANCE, EXPECTED_FAILURES, EXPECTED_PASSES, held_bytes,
                                 outcomes, ranked_tests, run_pytest, summary_section, write_suite)


def test_markers_fail_and_pass_without_profiling(tmp_path):
    # Markers hold even without --memlyze (pytest-memray needs --memray).
    write_suite(tmp_path)
    result = run_pytest(tmp_path)
    check(result, 1)
    found = outcomes(result)
    assert {name for name, outcome in found.items() if outcome == "FAILED"} == EXPECTED_FAILURES
    assert {name for name, outcome in found.items() if outcome == "PASSED"} == EXPECTED_PASSES
    assert 7_000_002 <= held_bytes(result, "test_over_limit") <= 7_000_002 + ARENA_ALLOWANCE
    assert 10_000_001 <= held_bytes(result, "test_param[big]") <= 10_000_001 + ARENA_ALLOWANCE
    # A failure shows where the memory went: the two lines, largest first.
    failure = result.stdout[result.stdout.index("held"):]
    first = failure.index("test_over_limit ")
    # a bytearray is one allocation (two on free-threaded builds: the object too)
    assert re.search(rf"5\.7 MiB in {BYTEARRAY_ALLOCATIONS} allocations?\n\s+test_over_limit "
                     r"\S+test_sample.py:14", failure)
    assert failure.index("test_sample.py:15") > first
    assert "over its limit of 4 MB (4,000,000 bytes) from limit_memory" in result.stdout
    # The leak limit without a filter counts the 2 MB the test kept.
    leaked = re.search(r"test_leak leaked .*?\(([\d,]+) bytes\)", result.stdout)
    assert 2_000_001 <= int(leaked.group(1).replace(",", "")) < 2_100_000
    assert "memlyze: the " not in result.stdout  # no summary without --memlyze


def test_ini_default_limit_applies_with_memlyze_and_markers_override_it(tmp_path):
    write_suite(tmp_path, '''
        import pytest

        def test_default_limited():
            block = bytearray(3_000_000)

        @pytest.mark.limit_memory("10 MB")
        def test_own_limit():
            block = bytearray(3_000_000)

        @pytest.mark.limit_memory("1 MB")
        def test_own_smaller_limit():
            block = bytearray(1_500_000)
        ''', ini="memlyze_limit_memory = 2 MB\n")
    plain = run_pytest(tmp_path)
    assert outcomes(plain) == {"test_default_limited": "PASSED", "test_own_limit": "PASSED",
                               "test_own_smaller_limit": "FAILED"}
    profiled = run_pytest(tmp_path, "--memlyze")
    assert outcomes(profiled) == {"test_default_limited": "FAILED", "test_own_limit": "PASSED",
                                  "test_own_smaller_limit": "FAILED"}
    assert "from memlyze_limit_memory (ini)" in profiled.stdout
    assert 3_000_001 <= held_bytes(profiled, "test_default_limited") <= 3_000_001 + ARENA_ALLOWANCE


def test_bad_ini_limit_is_one_line_usage_error(tmp_path):
    write_suite(tmp_path, "def test_nothing():\n    pass\n", ini="memlyze_limit_memory = lots\n")
    result = run_pytest(tmp_path, "--memlyze")
    check(result, 4)
    assert "memlyze_limit_memory in the ini file: not a byte size: 'lots'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_markers_error_their_test_with_one_line(tmp_path):
    write_suite(tmp_path, '''
        import pytest

        @pytest.mark.limit_memory("lots")
        def test_bad_size():
            pass

        @pytest.mark.limit_memory({"one": "1 MB"})
        @pytest.mark.parametrize("value", [1, 2], ids=["one", "two"])
        def test_missing_id(value):
            pass

        def test_fine():
            pass
        ''')
    result = run_pytest(tmp_path)
    assert outcomes(result) == {"test_bad_size": "ERROR", "test_missing_id[one]": "PASSED",
                                "test_missing_id[two]": "ERROR", "test_fine": "PASSED"}
    assert "memlyze: test_sample.py::test_bad_size: limit_memory: not a byte size: 'lots'" \
        in result.stdout
    assert "has no limit for parameter id 'two' (it has: one" in result.stdout
    assert "Traceback" not in result.stdout


def test_summary_lists_the_hungriest_tests_exactly_with_full(tmp_path):
    write_suite(tmp_path)
    result = run_pytest(tmp_path, "--memlyze-full", "--memlyze-top", "3", "--memlyze-stacks", "2")
    check(result, 1)
    summary = summary_section(result)
    assert summary.startswith("memlyze: the 3 hungriest of 11 recorded tests")
    assert ranked_tests(summary) == ["test_hungry", "test_param[big]", "test_over_limit"]
    assert "Every allocation recorded: figures are exact." in summary
    assert "~" not in summary
    # test_hungry: 200 bytearrays of 100,000 bytes and their list, from a
    # comprehension (its own frame before 3.12, inlined since).
    assert re.search(r"1\. \S+::test_hungry: peak 19\.\d MiB", summary)
    assert re.search(rf"19\.\d MiB in {201 * BYTEARRAY_ALLOCATIONS} allocations\n\s+test_hungry\S* "
                     r"\S+test_sample.py:58\n", summary)
    # --memlyze-stacks 2: a second frame only where there is one.
    assert not re.search(r"test_sample.py:14\n\s+\S+ \S+test_sample.py", summary)


def test_sampled_summary_marks_estimates_and_records_limited_tests_in_full(tmp_path):
    write_suite(tmp_path)
    result = run_pytest(tmp_path, "--memlyze", "--memlyze-top", "0")
    summary = summary_section(result)
    assert ranked_tests(summary)[:3] == ["test_hungry", "test_param[big]", "test_over_limit"]
    assert len(ranked_tests(summary)) == 11
    hungry = re.search(r"test_hungry: peak ~([\d.]+) MiB \(95%: ([\d.]+) MiB-([\d.]+) MiB\)",
                       summary)
    assert hungry, summary
    low, estimate, high = float(hungry.group(2)), float(hungry.group(1)), float(hungry.group(3))
    assert low <= estimate <= high and 10 < estimate < 30
    # Limited tests were recorded in full: exact figures, no "~".
    # Free-threaded builds record the Python domains (mimalloc), so the few
    # hundred bytes of objects pytest keeps per test show as leaked there.
    leaked = r"\d+ B" if FREE_THREADED else "0 B"
    assert re.search(rf"test_param\[big\]: peak 9\.5 MiB, leaked {leaked}", summary)
    assert "9 tests with a limit recorded in full" in summary
    assert outcomes(result) == {**{name: "FAILED" for name in EXPECTED_FAILURES},
                                **{name: "PASSED" for name in EXPECTED_PASSES}}


def test_bin_path_keeps_captures_and_fail_on_increase_compares_with_them(tmp_path):
    write_suite(tmp_path, '''
        import os

        def test_grows():
            block = bytearray(int(os.environ["SIZE"]))

        def test_steady():
            block = bytearray(500_000)
        ''')
    captures = tmp_path / "captures"
    first = run_pytest(tmp_path, "--memlyze-bin-path", captures, env=clean_env(SIZE="1000000"))
    check(first)
    baseline = captures / "test_sample.py--test_grows.mlyze"
    assert sorted(path.name for path in captures.iterdir()) == [
        "test_sample.py--test_grows.mlyze", "test_sample.py--test_steady.mlyze"]
    stats = json.loads(check(memlyze("stats", "--json", baseline, cwd=tmp_path)).stdout)
    assert stats["command"] == "test_sample.py::test_grows"
    assert stats["sampled"] and 900_000 < stats["peak_bytes"] < 1_000_001 + ARENA_ALLOWANCE

    grown = run_pytest(tmp_path, "--memlyze-bin-path", captures, "--memlyze-fail-on-increase",
                       env=clean_env(SIZE="4000000"))
    check(grown, 1)
    assert outcomes(grown) == {"test_grows": "FAILED", "test_steady": "PASSED"}
    assert "more than ~" in grown.stdout and "in the previous run" in grown.stdout
    # The baseline stays; this run's capture is kept beside it.
    stats = json.loads(check(memlyze("stats", "--json", baseline, cwd=tmp_path)).stdout)
    assert stats["peak_bytes"] < 1_000_001 + ARENA_ALLOWANCE
    assert (captures / "test_sample.py--test_grows.new.mlyze").exists()

    again = run_pytest(tmp_path, "--memlyze-bin-path", captures, "--memlyze-fail-on-increase",
                       env=clean_env(SIZE="1000000"))
    check(again)


def test_fail_on_increase_needs_bin_path(tmp_path):
    write_suite(tmp_path, "def test_nothing():\n    pass\n")
    result = run_pytest(tmp_path, "--memlyze-fail-on-increase")
    check(result, 4)
    assert "--memlyze-fail-on-increase needs --memlyze-bin-path DIR" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("option, key", [("--memlyze-native", "native"),
                                         ("--memlyze-python-allocators", "python_allocators")])
def test_recording_options_reach_the_captures(tmp_path, option, key):
    write_suite(tmp_path, "def test_something():\n    block = bytearray(2_000_000)\n")
    captures = tmp_path / "captures"
    for options in ((), (option,)):
        check(run_pytest(tmp_path, "--memlyze-full", "--memlyze-bin-path", captures, *options))
        capture = captures / "test_sample.py--test_something.mlyze"
        probe = check(memlyze("stats", "--json", capture, cwd=tmp_path))
        allocators = json.loads(probe.stdout)["allocators"]
        reader = check(run_python_metadata(tmp_path, capture))
        # free-threaded builds always record the Python domains
        expected = bool(options) or (key == "python_allocators" and FREE_THREADED)
        assert json.loads(reader.stdout)[key] is expected
        if key == "python_allocators":
            assert ("pymalloc" in allocators) is expected


def run_python_metadata(folder, capture):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", "import json, sys, memlyze; "
                           "print(json.dumps(memlyze.FileReader(sys.argv[1]).metadata))",
                           str(capture)], cwd=folder, env=clean_env(), capture_output=True,
                          text=True, timeout=60)


def test_plain_run_imports_no_recording_engine(tmp_path):
    write_suite(tmp_path, "def test_nothing():\n    pass\n")
    (tmp_path / "conftest.py").write_text(
        "import sys\n"
        "def pytest_unconfigure(config):\n"
        "    loaded = sorted(name for name in sys.modules if name.startswith('memlyze'))\n"
        "    print('\\nmodules:', ' '.join(loaded))\n")
    result = check(run_pytest(tmp_path, "-s"))
    loaded = result.stdout.split("modules:", 1)[1].split()
    assert "memlyze.pytest_plugin" in loaded  # the entry point is installed and loaded
    assert not {"memlyze._memlyze", "memlyze.tracker", "memlyze.pytest_plugin.plugin",
                "memlyze.file_reader"} & set(loaded), loaded
    disabled = check(run_pytest(tmp_path, "-s", "-p", "no:memlyze"))
    assert "memlyze.pytest_plugin" not in disabled.stdout.split("modules:", 1)[1].split()


def test_a_failing_test_keeps_its_own_failure_and_adds_the_limit(tmp_path):
    write_suite(tmp_path, '''
        import pytest

        @pytest.mark.limit_memory("1 MB")
        def test_fails_and_is_hungry():
            block = bytearray(2_000_000)
            assert False, "the test's own failure"
        ''')
    result = run_pytest(tmp_path)
    assert outcomes(result) == {"test_fails_and_is_hungry": "FAILED"}
    assert "the test's own failure" in result.stdout
    assert "over its limit of 1 MB" in result.stdout
