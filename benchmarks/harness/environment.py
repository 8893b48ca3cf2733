"""The benchmark-only virtual environment: memlyze from this checkout and the
peer profilers from PyPI, kept apart from the test environment."""

import os
import pathlib
import subprocess
import sys

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent
REPOSITORY = BENCHMARKS.parent
ENVIRONMENT = BENCHMARKS / ".venv-bench"
PEERS = ["memray", "mprofile"]
# The benchmark set (pyperformance's benchmarks run in-process with a stub
# pyperf, tornado for tornado_http, numpy for numpy_heavy), the chart, and
# the real programs capture_size.py records (harness/real_programs.py).
BENCHMARK_PACKAGES = ["pyperformance", "pyperf", "tornado", "numpy", "matplotlib",
                      "black", "pandas", "pytest"]
# Werror flags pymemtrace 0.6.3's build trips over with GCC 12 on 3.11.
PYMEMTRACE_CFLAGS = ("-Wno-error=unused-variable -Wno-error=use-after-free "
                     "-Wno-error=unused-function -Wno-error=unused-parameter "
                     "-Wno-error=dangling-pointer")


def python_path():
    return ENVIRONMENT / "bin" / "python"


def _pip(*arguments, env=None, check=True):
    command = [str(python_path()), "-m", "pip", "install", "--quiet",
               "--disable-pip-version-check", *arguments]
    return subprocess.run(command, check=check, env=env, capture_output=not check, text=True)


def ensure_environment(reinstall_memlyze=True):
    """Creates the environment if needed and installs memlyze and the peers."""
    if not python_path().exists():
        subprocess.run([sys.executable, "-m", "venv", str(ENVIRONMENT)], check=True)
    _pip(*PEERS, *BENCHMARK_PACKAGES)
    ensure_pymemtrace()
    if reinstall_memlyze:
        _pip("--force-reinstall", "--no-deps", str(REPOSITORY))
    return python_path()


def ensure_pymemtrace():
    """Installs pymemtrace if it is not there; it is a C extension whose
    build may fail on this compiler. Returns None when it imports, else the
    reason it could not be installed (callers print it and skip pymemtrace)."""
    check = [str(python_path()), "-c", "from pymemtrace import cPyMemTrace"]
    if subprocess.run(check, capture_output=True).returncode == 0:
        return None
    plain = _pip("pymemtrace", check=False)
    if plain.returncode != 0:
        _pip("pymemtrace", check=False, env=dict(os.environ, CFLAGS=PYMEMTRACE_CFLAGS))
    result = subprocess.run(check, capture_output=True, text=True)
    if result.returncode == 0:
        return None
    error = (plain.stderr or result.stderr).strip().splitlines()
    return "pip install pymemtrace failed: " + (error[-1] if error else "no output")


def environment_variables():
    variables = dict(os.environ)
    variables.pop("PYTHONPATH", None)
    return variables
