"""The benchmark-only virtual environment: memlyze from this checkout and the
peer profilers from PyPI, kept apart from the test environment."""

import os
import pathlib
import subprocess
import sys

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent
REPOSITORY = BENCHMARKS.parent
ENVIRONMENT = BENCHMARKS / ".venv-bench"
PEERS = ["memray"]


def python_path():
    return ENVIRONMENT / "bin" / "python"


def ensure_environment(reinstall_memlyze=True):
    """Creates the environment if needed and installs memlyze and the peers."""
    if not python_path().exists():
        subprocess.run([sys.executable, "-m", "venv", str(ENVIRONMENT)], check=True)
    pip = [str(python_path()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(pip + PEERS, check=True)
    if reinstall_memlyze:
        subprocess.run(pip + ["--force-reinstall", "--no-deps", str(REPOSITORY)], check=True)
    return python_path()


def environment_variables():
    variables = dict(os.environ)
    variables.pop("PYTHONPATH", None)
    return variables
