"""--include / --exclude: record only allocations whose stack has (has not) a
frame in a module matching a pattern."""

from conftest import assert_one_line_error, check, memlyze, stats_json, write_script

APP_MODULE = """
def build():
    blocks = []
    for _ in range(100):
        blocks.append(bytearray(1_000_000))
    return blocks
"""

VENDOR_MODULE = """
def build():
    blocks = []
    for _ in range(50):
        blocks.append(bytearray(1_000_000))
    return blocks


def call_back(function):
    return function()
"""

MAIN = """
import myapp.core
import vendor.lib

app = myapp.core.build()
vendor_blocks = vendor.lib.build()
# vendor code calling back into myapp: both modules are on this stack.
mixed = vendor.lib.call_back(myapp.core.build)
print("done")
"""


def make_workload(directory):
    for package, source in (("myapp", APP_MODULE), ("vendor", VENDOR_MODULE)):
        (directory / package).mkdir()
        (directory / package / "__init__.py").write_text("")
    write_script(directory / "myapp", "core.py", APP_MODULE)
    write_script(directory / "vendor", "lib.py", VENDOR_MODULE)
    return write_script(directory, "main.py", MAIN)


def held_by_module(stats):
    held = {}
    for entry in stats["top_by_peak"]:
        key = entry["file"].rsplit("/", 2)[-2] if "/" in entry["file"] else entry["file"]
        held[key] = held.get(key, 0) + entry["bytes"]
    return held


def record(directory, name, *options):
    script = make_workload(directory) if not (directory / "main.py").exists() else \
        directory / "main.py"
    capture = directory / f"{name}.mlyze"
    result = check(memlyze("run", "-f", "-o", capture, *options, script, cwd=directory))
    assert result.stdout == "done\n"
    return stats_json(capture, directory)


def test_include_keeps_only_stacks_through_the_module(tmp_path):
    stats = record(tmp_path, "include", "--include", "myapp.*")
    held = held_by_module(stats)
    # build() twice from myapp (once called back through vendor): 200 MB.
    assert 199_000_000 <= held.get("myapp", 0) <= 202_000_000
    assert "vendor" not in held
    assert stats["peak_bytes"] <= 205_000_000


def test_exclude_drops_stacks_through_the_module(tmp_path):
    stats = record(tmp_path, "exclude", "--exclude", "vendor.*")
    held = held_by_module(stats)
    # Only the direct myapp call: the called-back one has vendor on its stack.
    assert 99_000_000 <= held.get("myapp", 0) <= 101_500_000
    assert "vendor" not in held


def test_without_filters_everything_is_recorded(tmp_path):
    stats = record(tmp_path, "all")
    held = held_by_module(stats)
    assert 199_000_000 <= held.get("myapp", 0) <= 202_000_000
    assert 49_000_000 <= held.get("vendor", 0) <= 51_000_000


def test_include_with_sampling(tmp_path):
    stats = record(tmp_path, "sampled", "--include", "vendor*", "--sample-interval", "256KiB")
    assert stats["sampled"] is True
    held = held_by_module(stats)
    # vendor's own 50 MB, and myapp's 100 MB built under vendor.call_back.
    assert 0.85 * 150_000_000 <= sum(held.values()) <= 1.15 * 150_000_000


def test_filters_in_the_tracker(tmp_path):
    make_workload(tmp_path)
    script = write_script(tmp_path, "inproc.py", """
        import sys
        import memlyze
        import myapp.core
        import vendor.lib

        with memlyze.Tracker(sys.argv[1], exclude_patterns=["myapp*"]):
            a = myapp.core.build()
            v = vendor.lib.build()
    """)
    from conftest import python

    capture = tmp_path / "inproc.mlyze"
    check(python(script, capture, cwd=tmp_path))
    held = held_by_module(stats_json(capture, tmp_path))
    assert "myapp" not in held
    assert 49_000_000 <= held.get("vendor", 0) <= 51_000_000


def test_bad_pattern_option(tmp_path):
    script = write_script(tmp_path, "x.py", "pass\n")
    assert_one_line_error(memlyze("run", "-o", tmp_path / "x.mlyze", "--include", script,
                                  cwd=tmp_path))
