"""Tracking inside another CPython 3.11: Debian's /usr/bin/python3.11 is a
non-PIE executable with libpython linked in, whose canonical PLT entries make
dlsym(RTLD_DEFAULT, "malloc") point back into a GOT we patch. The hooks must
still reach the real allocator (this used to recurse until the stack ran out)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import memlyze

from conftest import HOLD_BYTES, assert_close, check, line_of, stats_json, write_script

DEBIAN_PYTHON = "/usr/bin/python3.11"

WORKLOAD = """
import sys
sys.path.insert(0, sys.argv[1])
import memlyze


def hold():
    blocks = []
    for _ in range(200):
        blocks.append(bytearray(1_000_000))  # HOLD
    return blocks


with memlyze.Tracker(sys.argv[2]):
    blocks = hold()
    del blocks
print("done")
"""


@pytest.mark.skipif(sys.version_info[:2] != (3, 11),
                    reason="the installed extension is built for this interpreter, not Debian's 3.11")
def test_debian_non_pie_python_is_tracked(tmp_path):
    assert os.access(DEBIAN_PYTHON, os.X_OK), "scripts/test.sh installs Debian's python3.11"
    script = write_script(tmp_path, "workload.py", WORKLOAD)
    capture = tmp_path / "debian.mlyze"
    package_parent = Path(memlyze.__file__).resolve().parent.parent
    result = subprocess.run([DEBIAN_PYTHON, str(script), str(package_parent), str(capture)],
                            capture_output=True, text=True, timeout=120)
    check(result)
    assert result.stdout == "done\n"
    stats = stats_json(capture, tmp_path)
    assert_close(stats["peak_bytes"], HOLD_BYTES)
    top = stats["top_by_peak"][0]
    assert (top["function"], Path(top["file"]).name, top["line"]) == (
        "hold", "workload.py", line_of(script, "HOLD"))
