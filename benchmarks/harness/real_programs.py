"""Real programs the capture-size benchmark records besides the benchmark
set: black formatting a source tree, a pandas data script, a generated
pytest suite and a thread pool whose workers allocate side by side. Each
is run as its own process (`memlyze run` / `memray run` with the
program's own command line), not through the benchmark runner.

A program is (name, modules it needs, prepare(directory, python) -> argv
after the interpreter, environment additions)."""

import pathlib
import shutil
import subprocess
import textwrap

WORKLOADS = pathlib.Path(__file__).resolve().parent.parent / "workloads"

PYTEST_FILES = 24
PYTEST_TESTS_PER_FILE = 30

PYTEST_MODULE = textwrap.dedent('''\
    import json
    import re

    import pytest

    WORDS = re.compile(r"[a-z]+")


    @pytest.fixture
    def records():
        return [{{"id": index, "name": f"user-{{index}}", "tags": ["a", "b"] * (index % 4)}}
                for index in range(200)]


    @pytest.mark.parametrize("count", range({tests}))
    def test_round_trip(records, count):
        text = json.dumps(records[count:])
        assert json.loads(text) == records[count:]


    @pytest.mark.parametrize("size", [10, 100, 1000])
    def test_words(size):
        text = " ".join(f"word{{index}}" for index in range(size))
        assert len(WORDS.findall(text)) == size
    ''')


def _stdlib(python):
    return pathlib.Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
        check=True, capture_output=True, text=True).stdout.strip())


def _black(directory, python):
    tree = pathlib.Path(directory) / "black-tree"
    if not tree.exists():
        shutil.copytree(_stdlib(python) / "email", tree,
                        ignore=shutil.ignore_patterns("__pycache__"))
    cache = pathlib.Path(directory) / "black-cache"
    shutil.rmtree(cache, ignore_errors=True)
    # One worker: black's default process pool would leave the work to
    # children neither profiler follows by default. --diff writes nothing.
    return ["-m", "black", "--workers", "1", "-q", "--diff", str(tree)], \
        {"BLACK_CACHE_DIR": str(cache)}


def _pytest(directory, python):
    suite = pathlib.Path(directory) / "pytest-suite"
    if not suite.exists():
        suite.mkdir()
        for number in range(PYTEST_FILES):
            (suite / f"test_module_{number:02d}.py").write_text(
                PYTEST_MODULE.format(tests=PYTEST_TESTS_PER_FILE))
    return ["-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)], {}


def _pandas(directory, python):
    return [str(WORKLOADS / "pandas_frames.py")], {}


def _thread_pool(directory, python):
    return [str(WORKLOADS / "thread_pool.py"), "--workers", "8", "--tasks", "3000"], {}


PROGRAMS = {
    "black": (("black",), _black),
    "pandas": (("pandas", "numpy"), _pandas),
    "pytest suite": (("pytest",), _pytest),
    "thread pool": ((), _thread_pool),
}
