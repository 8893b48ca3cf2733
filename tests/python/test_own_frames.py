"""memlyze never shows itself (issue 14, item 3): frames of memlyze's own
Python files (the tracker, thread naming, the run entry) are not recorded,
so no report or export shows them, and their bytes go to the nearest frame
of the program."""

from __future__ import annotations

import gzip
import subprocess
import os
import sys

import pytest
from conftest import check, clean_env, line_of, memlyze, stats_json, write_script

import memlyze as memlyze_package
from memlyze.reports.flame_data import build_flame_data

OWN = os.path.dirname(os.path.abspath(memlyze_package.__file__)) + os.sep

API = """
import sys
import memlyze

KEEP = []


def work():
    KEEP.append(bytearray(3_000_000))  # WORK


with memlyze.Tracker(sys.argv[1]):
    import threading
    KEEP.append(bytearray(2_000_000))  # TOP
    thread = threading.Thread(target=work, name="worker")
    thread.start()
    thread.join()
"""

RUN = """
KEEP = []


def main():
    KEEP.append(bytearray(4_000_000))  # MAIN


main()
"""


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    directory = tmp_path_factory.mktemp("own")
    api = write_script(directory, "api_program.py", API)
    run = write_script(directory, "run_program.py", RUN)
    api_capture, run_capture = directory / "api.mlyze", directory / "run.mlyze"
    check(memlyze("run", "-o", run_capture, run, cwd=directory))



    subprocess.run([sys.executable, str(api), str(api_capture)], cwd=directory, env=clean_env(),
                   check=True, capture_output=True)
    return directory, {"api": (api, api_capture), "run": (run, run_capture)}


def _frames(data):
    strings, nodes = data["strings"], data["nodes"]
    return [(strings[function], strings[file], line) for function, file, line
            in zip(nodes["function"], nodes["file"], nodes["line"])]


@pytest.mark.parametrize("which", ["api", "run"])
def test_no_report_shows_memlyze_frames(captures, which):
    directory, programs = captures
    script, capture = programs[which]
    data = build_flame_data(capture, selection="total", progress=None)
    frames = _frames(data)
    assert not [frame for frame in frames if frame[1].startswith(OWN)], frames
    assert any(file == str(script) for _, file, _ in frames)
    tree = check(memlyze("tree", "--plain", "--leaks", capture,
                         cwd=directory)).stdout
    summary = check(memlyze("summary", "-n", "20", capture, cwd=directory)).stdout
    collapsed = check(memlyze("export", "--format", "collapsed", "-o", "-", capture,
                              cwd=directory)).stdout
    check(memlyze("export", "--format", "pprof", "-o", f"{which}.pb.gz", capture,
                  cwd=directory))
    pprof = gzip.decompress((directory / f"{which}.pb.gz").read_bytes())
    for name, text in (("tree", tree), ("summary", summary), ("collapsed", collapsed)):
        assert OWN not in text and "thread_naming" not in text and "Tracker" not in text, name
        assert script.name in text, name
    assert OWN.encode() not in pprof and b"thread_naming" not in pprof
    assert str(script).encode() in pprof


def test_bytes_go_to_the_nearest_program_frame(captures):
    directory, programs = captures
    script, capture = programs["api"]
    data = build_flame_data(capture, selection="leaks", progress=None)
    frames, nodes = _frames(data), data["nodes"]
    top = [index for index, frame in enumerate(frames)
           if frame == ("<module>", str(script), line_of(script, "TOP"))]
    work = [index for index, frame in enumerate(frames)
            if frame == ("work", str(script), line_of(script, "WORK"))]
    assert top and work
    # each is the whole of what was allocated there: nothing below it
    assert sum(nodes["self_bytes"][index] for index in top) >= 2_000_000
    assert sum(nodes["self_bytes"][index] for index in work) >= 3_000_000
    # the program's <module> sits right under the root: nothing of memlyze's above it
    module = [index for index, frame in enumerate(frames) if frame[0] == "<module>"
              and frame[1] == str(script)]
    assert all(frames[nodes["parent"][index]][0] in ("<all>",) or
               not frames[nodes["parent"][index]][1].startswith(OWN) for index in module)
    stats = stats_json(capture, directory)
    assert data["meta"]["total_bytes"] == stats["leaked_bytes"]
