"""Runs a command once and measures its wall and CPU time (user + system of
the process and all its children, from wait4's resource usage)."""

import os
import subprocess
import time


def run_measured(command, environment=None, cwd=None):
    """Returns (wall_seconds, cpu_seconds). Raises CalledProcessError on failure."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=environment, cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command, stderr=stderr)
    return wall, usage.ru_utime + usage.ru_stime
