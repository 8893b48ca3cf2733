"""Every CLI report command on every hostile capture of the fuzz corpus.

The hostile seeds (fuzz/corpus/hostile-*.bin, written by fuzz/make_corpus.c
from tests/c/hostile_captures.c): overflowing sizes and sums, sampling rates
of 1e-12 and subnormal, a sampling record out of range, decompression bombs
(strings, aggregate stacks), a chunk above the header's maximum, huge
counts, a deep stack and cyclic stack parents. Each command, run with its
address space limited (RLIMIT_AS) and a time limit, gives either a correct
answer or one line naming the problem, and a non-zero exit; never a crash,
a traceback or a runaway.
"""

from __future__ import annotations

import json
import resource
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import MEMLYZE, REPO, clean_env
from report_commands import report_commands

ADDRESS_SPACE_LIMIT = 2 << 30  # far below what the bombs claim (1.4 GB of tables and more)
TIME_LIMIT_S = 60
SEEDS = sorted((REPO / "fuzz" / "corpus").glob("hostile-*.bin"))

# What the one line must name, for the captures the reader refuses.
REFUSALS = {
    "hostile-aggregate-bomb.bin": "aggregate stacks, but only",
    "hostile-chunk-above-maximum.bin": "exceeds",
    "hostile-cyclic-stacks.bin": "back from stack 1 is not defined",
    "hostile-huge-counts.bin": "footer field 1 is out of range",
    "hostile-overflowing-sum.bin": "add up to more",
    "hostile-sample-rate-1e-12.bin": "sample rate 1e-12 is not in",
    "hostile-sample-rate-3.6e-304.bin": "sample rate 3.6e-304 is not in",
    "hostile-sampling-record.bin": "sampling mode",
    "hostile-size-2-63.bin": "above the limit of 2^48 bytes",
    "hostile-strings-bomb.bin": "the definitions need more than",
}
# The captures that are valid, however odd: one allocation of 4096 bytes.
ANSWERS = {"hostile-deep-stack.bin"}


def limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def run_report(arguments: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([*MEMLYZE, *arguments], capture_output=True, text=True,
                          env=clean_env(), timeout=TIME_LIMIT_S, preexec_fn=limit_address_space)


def test_the_corpus_has_every_kind_of_hostile_capture():
    assert {seed.name for seed in SEEDS} == set(REFUSALS) | ANSWERS


@pytest.mark.parametrize("seed", SEEDS, ids=lambda seed: seed.stem)
def test_every_report_answers_or_names_the_problem(seed, tmp_path):
    commands = report_commands(seed, tmp_path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(commands, pool.map(run_report, commands.values())))
    for name, result in results.items():
        where = f"{name} on {seed.name}: exit {result.returncode}\n{result.stderr}"
        assert result.returncode >= 0, where  # not killed by a signal
        assert "Traceback" not in result.stderr, where
        if result.returncode == 0:
            continue
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("memlyze: error: "), where
        if name == "plot":
            assert "is not a memlyze.process log" in lines[0], where
        else:
            assert seed.name in REFUSALS, where
            assert REFUSALS[seed.name] in lines[0], where
    capture_reports = {name: result for name, result in results.items() if name != "plot"}
    if seed.name in ANSWERS:
        assert all(result.returncode == 0 for result in capture_reports.values())
        stats = json.loads(results["stats --json"].stdout)
        assert (stats["total_allocations"], stats["total_bytes"], stats["peak_bytes"]) == (
            1, 4096, 4096)
    else:
        assert all(result.returncode == 1 for result in capture_reports.values())
