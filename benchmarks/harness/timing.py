"""Runs a command once and measures its wall and CPU time (user + system of
the process and all its children, from wait4's resource usage)."""

import os
import subprocess
import tempfile
import time


def run_measured_with_stderr(command, environment=None, cwd=None):
    """Returns (wall_seconds, cpu_seconds, stderr text). stderr goes to a
    temporary file, not a pipe, so that a chatty program cannot block on a
    full pipe while being timed. Raises CalledProcessError on failure."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=environment, cwd=cwd,
                                   stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command, stderr=stderr)
    return wall, usage.ru_utime + usage.ru_stime, stderr


def run_measured(command, environment=None, cwd=None):
    """Returns (wall_seconds, cpu_seconds). Raises CalledProcessError on failure."""
    wall, cpu, _ = run_measured_with_stderr(command, environment, cwd)
    return wall, cpu
