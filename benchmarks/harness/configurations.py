"""The profiler configurations a benchmark runs under, as command builders.

Each configuration turns (python, script, arguments, capture path) into the
command line that runs the script under that profiler, and knows how to
count the allocations its capture holds, so that a profiler that silently
failed to record cannot look fast."""

import json
import pathlib
import subprocess


class Configuration:
    def __init__(self, name, build_command, capture_suffix=None, count_allocations=None):
        self.name = name
        self.build_command = build_command
        self.capture_suffix = capture_suffix
        self.count_allocations = count_allocations


def _memlyze_allocations(python, capture):
    output = subprocess.run([str(python), "-m", "memlyze", "stats", "--json", str(capture)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output)["total_allocations"]


def _memray_allocations(python, capture):
    code = ("import sys, memray; "
            "print(memray.FileReader(sys.argv[1]).metadata.total_allocations)")
    output = subprocess.run([str(python), "-c", code, str(capture)], check=True,
                            capture_output=True, text=True).stdout
    return int(output)


def _plain(python, script, arguments, capture):
    return [str(python), str(script), *arguments]


def _memlyze(*options):
    def build(python, script, arguments, capture):
        return [str(python), "-m", "memlyze", "run", "-f", "-o", str(capture), *options,
                str(script), *arguments]
    return build


def _memray(*options):
    def build(python, script, arguments, capture):
        return [str(python), "-m", "memray", "run", "-f", "-q", "-o", str(capture), *options,
                str(script), *arguments]
    return build


CONFIGURATIONS = {
    "python": Configuration("python", _plain),
    "memlyze": Configuration("memlyze", _memlyze(), ".mlyze", _memlyze_allocations),
    "memlyze-python-allocators": Configuration(
        "memlyze-python-allocators", _memlyze("--python-allocators"), ".mlyze",
        _memlyze_allocations),
    "memray": Configuration("memray", _memray(), ".bin", _memray_allocations),
    "memray-python-allocators": Configuration(
        "memray-python-allocators", _memray("--trace-python-allocators"), ".bin",
        _memray_allocations),
}


def capture_path(directory, configuration, workload):
    return pathlib.Path(directory) / f"{workload}-{configuration.name}{configuration.capture_suffix}"
