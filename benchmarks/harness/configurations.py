"""The profiler configurations a benchmark runs under, as command builders.

Each configuration turns (python, script, arguments, capture path) into the
command line that runs the script under that profiler, and knows how to
tell that the run really recorded something, so that a profiler that
silently failed to start cannot look fast: either by counting the
allocations of its capture (memlyze, memray) or from the line
`run_under recorded: N ...` that harness/run_under.py prints to stderr
(mprofile, tracemalloc, the RSS tracers). A configuration can also say why
it cannot run with a given interpreter (a peer not installed, an option
memlyze does not have yet), which the harness prints before skipping it."""

import functools
import json
import pathlib
import re
import subprocess

RECORDED = re.compile(r"^run_under recorded: (\d+)", re.MULTILINE)
RUNNER_TIMING = re.compile(r"^runner timing: wall=([0-9.]+) cpu=([0-9.]+)$", re.MULTILINE)


class Configuration:
    """count_allocations(python, capture) counts a capture's allocations;
    stderr_recorded: the run prints `run_under recorded: N` instead;
    sampled: any record at all proves that recording ran (a sampled run
    records few); unavailable(python): None, or why it cannot run there;
    peer: another project's profiler (its failures are reported, not ours)."""

    def __init__(self, name, build_command, capture_suffix=None, count_allocations=None,
                 stderr_recorded=False, sampled=False, unavailable=None, description="",
                 peer=False):
        self.name = name
        self.build_command = build_command
        self.capture_suffix = capture_suffix
        self.count_allocations = count_allocations
        self.stderr_recorded = stderr_recorded
        self.sampled = sampled
        self.unavailable = unavailable or (lambda python: None)
        self.description = description
        self.peer = peer

    @property
    def checked(self):
        return self.count_allocations is not None or self.stderr_recorded


def recorded_from_stderr(stderr):
    """The N of the last `run_under recorded: N` line, or None."""
    found = RECORDED.findall(stderr or "")
    return int(found[-1]) if found else None


def runner_timing(stderr):
    """(wall, cpu) seconds of the last `runner timing:` line the shared
    runner printed, or None."""
    found = RUNNER_TIMING.findall(stderr or "")
    return (float(found[-1][0]), float(found[-1][1])) if found else None


def _memlyze_allocations(python, capture):
    output = subprocess.run([str(python), "-m", "memlyze", "stats", "--json", str(capture)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output)["total_allocations"]


def _memlyze_recorded_allocations(python, capture):
    """Allocations actually written (a sampled capture's are far fewer than
    its estimate): a count of one is already proof that recording ran."""
    code = ("import sys; from memlyze import _memlyze; "
            "f = _memlyze.CaptureFile(sys.argv[1]); "
            "print(sum(1 for r in f.records() if r[0] == 'alloc'))")
    output = subprocess.run([str(python), "-c", code, str(capture)], check=True,
                            capture_output=True, text=True).stdout
    return int(output)


def _memray_allocations(python, capture):
    """Allocation records in a memray capture. (Its metadata's
    total_allocations also counts free records, which would halve the
    bytes-per-allocation figure.)"""
    code = ("import sys, memray; from memray import AllocatorType; "
            "print(sum(1 for r in memray.FileReader(sys.argv[1]).get_allocation_records() "
            "if not any(word in AllocatorType(r.allocator).name for word in ('FREE', 'MUNMAP'))))")
    output = subprocess.run([str(python), "-c", code, str(capture)], check=True,
                            capture_output=True, text=True).stdout
    return int(output)


@functools.lru_cache(maxsize=None)
def _imports(python, module):
    result = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True,
                            text=True)
    if result.returncode == 0:
        return None
    lines = result.stderr.strip().splitlines()
    return f"`import {module}` fails in {python}: {lines[-1] if lines else 'no output'}"


def _needs_module(module):
    return lambda python: _imports(str(python), module)


@functools.lru_cache(maxsize=None)
def _memlyze_run_option(python, option):
    missing = _imports(str(python), "memlyze")
    if missing:
        return missing
    result = subprocess.run([str(python), "-m", "memlyze", "run", "--help"],
                            capture_output=True, text=True)
    if option not in result.stdout:
        return f"`memlyze run` has no {option} option in this build"
    return None


def _needs_memlyze_option(option):
    return lambda python: _memlyze_run_option(str(python), option)


def _plain(python, script, arguments, capture):
    return [str(python), str(script), *arguments]


def _memlyze(*options):
    def build(python, script, arguments, capture):
        return [str(python), "-m", "memlyze", "run", "-f", "-o", str(capture), *options,
                str(script), *arguments]
    return build


RUN_UNDER = pathlib.Path(__file__).resolve().parent / "run_under.py"


def _run_under(profiler, setting, *python_options):
    def build(python, script, arguments, capture):
        return [str(python), *python_options, str(RUN_UNDER), profiler, str(setting),
                str(script), *arguments]
    return build


def _python_options(*options):
    def build(python, script, arguments, capture):
        return [str(python), *options, str(script), *arguments]
    return build


def _memray(*options):
    def build(python, script, arguments, capture):
        return [str(python), "-m", "memray", "run", "-f", "-q", "-o", str(capture), *options,
                str(script), *arguments]
    return build


def _memlyze_configuration(name, *options, sampled=False, counter=_memlyze_allocations):
    needs = next((option for option in options if option == "--native"), None)
    return Configuration(name, _memlyze(*options), ".mlyze", counter, sampled=sampled,
                         unavailable=_needs_memlyze_option(needs) if needs else
                         _needs_module("memlyze"),
                         description=" ".join(["memlyze run", *options]))


LIVE_WATCHED = pathlib.Path(__file__).resolve().parent / "live_watched.py"


def _memlyze_live_watched(python, script, arguments, capture):
    return [str(python), str(LIVE_WATCHED), str(capture), str(script), *arguments]


def _memray_configuration(name, *options):
    return Configuration(name, _memray(*options), ".bin", _memray_allocations,
                         unavailable=_needs_module("memray"), peer=True,
                         description=" ".join(["memray run", *options]))


def _tracemalloc_configuration(frames):
    return Configuration(
        f"tracemalloc-{frames}", _run_under("tracemalloc-report", 0, "-X", f"tracemalloc={frames}"),
        stderr_recorded=True, sampled=True, peer=True,
        description=f"python -X tracemalloc={frames} (through run_under.py, which reports "
                    "the traced peak)")


def _run_under_configuration(name, profiler, setting, module, description, sampled=True,
                             peer=False):
    return Configuration(name, _run_under(profiler, setting), stderr_recorded=True,
                         sampled=sampled, unavailable=_needs_module(module),
                         description=description, peer=peer)


_SAMPLED_COUNTER = _memlyze_recorded_allocations

CONFIGURATIONS = {configuration.name: configuration for configuration in [
    Configuration("python", _plain, description="plain Python"),
    _memlyze_configuration("memlyze"),
    _memlyze_configuration("memlyze-python-allocators", "--python-allocators"),
    _memlyze_configuration("memlyze-native", "--native"),
    _memlyze_configuration("memlyze-native-python-allocators", "--native",
                           "--python-allocators"),
    _memlyze_configuration("memlyze-sample-512k", "--sample-interval", "512KiB",
                           sampled=True, counter=_SAMPLED_COUNTER),
    _memlyze_configuration("memlyze-sample-512k-python-allocators", "--sample-interval",
                           "512KiB", "--python-allocators", sampled=True,
                           counter=_SAMPLED_COUNTER),
    _memlyze_configuration("memlyze-sample-rate-0.1", "--sample-rate", "0.1", sampled=True),
    # The flight recorder: a window of a million events kept in memory and
    # dumped at exit (only the window is written, so one record is proof).
    _memlyze_configuration("memlyze-ring", "--ring", "1000000", sampled=True,
                           counter=_SAMPLED_COUNTER),
    # The live view (docs/live.md): served with no viewer, and watched by a
    # headless viewer for the whole run (harness/live_watched.py).
    _memlyze_configuration("memlyze-live", "--live"),
    Configuration("memlyze-live-watched", _memlyze_live_watched, ".mlyze",
                  _memlyze_allocations, unavailable=_needs_memlyze_option("--live"),
                  description="memlyze run --live PORT with a headless viewer connected "
                              "(harness/live_watched.py)"),
    Configuration("python-in-process", _run_under("none", 0),
                  description="plain Python through run_under.py (in-process baseline)"),
    _run_under_configuration("memlyze-in-process-sample-512k", "memlyze-interval", 512 * 1024,
                             "memlyze", "memlyze.Tracker(sample_interval=512KiB) in-process"),
    _run_under_configuration("memlyze-in-process-sample-512k-python-allocators",
                             "memlyze-interval-python-allocators", 512 * 1024, "memlyze",
                             "memlyze.Tracker(sample_interval=512KiB, python_allocators=True) "
                             "in-process"),
    _run_under_configuration("mprofile-128k", "mprofile", 128 * 1024, "mprofile",
                             "mprofile.start(sample_rate=128KiB)", peer=True),
    _tracemalloc_configuration(1),
    _tracemalloc_configuration(128),
    _run_under_configuration("pymemtrace-profile", "pymemtrace-profile", -1,
                             "pymemtrace.cPyMemTrace",
                             "pymemtrace cPyMemTrace.Profile(d_rss_trigger=-1)", peer=True),
    _run_under_configuration("memlyze-cpymemtrace-profile", "memlyze-cpymemtrace-profile", -1,
                             "memlyze.cpymemtrace",
                             "memlyze.cpymemtrace.Profile(d_rss_trigger=-1)"),
    _run_under_configuration("memlyze-cpymemtrace-trace", "memlyze-cpymemtrace-trace", -1,
                             "memlyze.cpymemtrace",
                             "memlyze.cpymemtrace.Trace(d_rss_trigger=-1)"),
    _memray_configuration("memray"),
    _memray_configuration("memray-python-allocators", "--trace-python-allocators"),
    _memray_configuration("memray-native", "--native"),
    _memray_configuration("memray-native-python-allocators", "--native",
                          "--trace-python-allocators"),
]}

QUICK = ["python", "memlyze", "memlyze-python-allocators", "memlyze-sample-512k", "memray",
         "memray-python-allocators", "tracemalloc-1", "mprofile-128k"]
FULL = ["python", "memlyze", "memlyze-python-allocators", "memlyze-native",
        "memlyze-native-python-allocators", "memlyze-sample-512k", "memlyze-sample-rate-0.1",
        "memray", "memray-python-allocators", "memray-native", "memray-native-python-allocators",
        "tracemalloc-1", "tracemalloc-128", "pymemtrace-profile", "mprofile-128k",
        "memlyze-cpymemtrace-profile", "memlyze-cpymemtrace-trace"]


def capture_path(directory, configuration, workload):
    name = f"{workload}-{configuration.name}{configuration.capture_suffix}"
    return pathlib.Path(directory) / name
