"""A process memory monitor, like pymemtrace's ``process.py``: samples a
process's RSS, peak RSS, page faults and CPU use at intervals into a
JSON-lines log (one object per line; docs/cpymemtrace.md describes the keys).

::

    python -m memlyze.process --interval 0.25 -o run.jsonl -- python app.py
    memlyze plot run.jsonl -o mem.png

    from memlyze import process
    with process.monitor(0.25, "run.jsonl"):
        work()

The command's exit status is passed on. Figures come from /proc/<pid>
(statm, stat, status), so any process can be watched, not only Python.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time

__all__ = ["ProcessSampler", "Monitor", "monitor", "main"]

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


class ProcessSampler:
    """Reads one process's memory, fault and CPU figures from /proc."""

    def __init__(self, pid: int):
        self.pid = pid
        self._last_cpu = None

    def _read(self, name: str) -> str:
        with open(f"/proc/{self.pid}/{name}", "rb") as stream:
            return stream.read().decode()

    def sample(self) -> dict:
        """The figures now: rss, rss_peak (bytes), minor/major faults and
        the CPU percentage since the previous sample (None for the first).
        Raises OSError once the process is gone."""
        now = time.monotonic()
        resident_pages = int(self._read("statm").split()[1])
        stat = self._read("stat")
        fields = stat[stat.rindex(")") + 2:].split()
        minor_faults, major_faults = int(fields[7]), int(fields[9])
        cpu_seconds = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        peak = 0
        for line in self._read("status").splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
        cpu_percent = None
        if self._last_cpu is not None:
            elapsed = now - self._last_cpu[0]
            if elapsed > 0:
                cpu_percent = round(100.0 * (cpu_seconds - self._last_cpu[1]) / elapsed, 1)
        self._last_cpu = (now, cpu_seconds)
        rss = resident_pages * _PAGE_SIZE
        return {"rss": rss, "rss_peak": max(peak, rss), "minor_faults": minor_faults,
                "major_faults": major_faults, "cpu_percent": cpu_percent}


class Monitor:
    """A thread writing a sample of process pid every interval seconds to
    log_path (JSON lines: a header, samples, an end record)."""

    def __init__(self, pid: int, interval: float, log_path, command=None, force: bool = False):
        if not interval > 0:
            raise ValueError(f"interval must be positive seconds, not {interval!r}")
        self.pid = pid
        self.interval = float(interval)
        self.log_path = os.fspath(log_path)
        self._sampler = ProcessSampler(pid)
        self._stop = threading.Event()
        # Like every memlyze writer: an existing log is replaced only when asked.
        self._stream = open(self.log_path, "w" if force else "x", encoding="utf-8")
        self._start = time.monotonic()
        self._write({"kind": "header", "format": "memlyze-process", "version": 1, "pid": pid,
                     "interval": self.interval, "command": command, "started": time.time()})
        self._thread = threading.Thread(target=self._run, name="memlyze-process", daemon=True)
        self.samples = 0

    def _write(self, record: dict) -> None:
        self._stream.write(json.dumps(record) + "\n")
        self._stream.flush()

    def _sample_once(self) -> bool:
        try:
            figures = self._sampler.sample()
        except (OSError, ValueError, IndexError):
            return False
        self._write({"kind": "sample", "time": round(time.monotonic() - self._start, 6),
                     **figures})
        self.samples += 1
        return True

    def _run(self) -> None:
        while self._sample_once() and not self._stop.wait(self.interval):
            pass

    def start(self) -> "Monitor":
        self._thread.start()
        return self

    def stop(self, exit_status=None) -> None:
        """Stops the thread, writes a last sample (if the process is there)
        and the end record, and closes the log."""
        self._stop.set()
        self._thread.join()
        self._sample_once()
        self._write({"kind": "end", "time": round(time.monotonic() - self._start, 6),
                     "samples": self.samples, "exit_status": exit_status})
        self._stream.close()


@contextlib.contextmanager
def monitor(interval: float = 0.25, log_path=None):
    """Samples this process every interval seconds while the block runs;
    yields the Monitor (its log_path names the log, by default
    memlyze-process-<pid>.jsonl in the current directory)."""
    pid = os.getpid()
    running = Monitor(pid, interval, log_path or f"memlyze-process-{pid}.jsonl",
                      command=sys.argv).start()
    try:
        yield running
    finally:
        running.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m memlyze.process",
        description="Run COMMAND and log its RSS, peak RSS, page faults and CPU% every "
                    "INTERVAL seconds as JSON lines (draw it with 'memlyze plot LOG').")
    parser.add_argument("--interval", type=float, default=0.25, metavar="SECONDS",
                        help="time between samples (default: 0.25)")
    parser.add_argument("-o", "--output", metavar="LOG",
                        help="log file (default: memlyze-process-<pid>.jsonl)")
    parser.add_argument("-f", "--force", action="store_true",
                        help="overwrite an existing log file")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    return parser


def main(argv=None) -> int:
    options = _parser().parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        print("memlyze.process: error: no command to run (usage: python -m memlyze.process "
              "--interval 0.25 -- COMMAND ...)", file=sys.stderr)
        return 2
    if not options.interval > 0:
        print(f"memlyze.process: error: --interval must be positive, not {options.interval}",
              file=sys.stderr)
        return 2
    if options.output and os.path.lexists(options.output) and not options.force:
        print(f"memlyze.process: error: {options.output} already exists (use -f/--force to "
              "overwrite it)", file=sys.stderr)
        return 1
    if options.output and os.path.isdir(options.output):
        print(f"memlyze.process: error: {options.output} is a directory; give a file name with -o",
              file=sys.stderr)
        return 1
    try:
        child = subprocess.Popen(command)
    except OSError as error:
        print(f"memlyze.process: error: cannot run {command[0]!r}: {error}", file=sys.stderr)
        return 127
    try:
        running = Monitor(child.pid, options.interval,
                          options.output or f"memlyze-process-{child.pid}.jsonl", command,
                          force=options.force).start()
    except OSError as error:
        child.kill()
        child.wait()
        print(f"memlyze.process: error: cannot create the log: {error}", file=sys.stderr)
        return 1
    status = None
    try:
        status = child.wait()
    except KeyboardInterrupt:
        status = child.wait()
    finally:
        running.stop(status)
    print(f"memlyze.process: {plural(running.samples, 'sample')} in {running.log_path} "
          f"(draw it: memlyze plot {running.log_path})", file=sys.stderr)
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main())
