"""What a run records, from its command-line options."""

from __future__ import annotations

from typing import NamedTuple


class Settings(NamedTuple):
    profiling: bool  # --memlyze: every test, and the summary
    full: bool  # --memlyze-full: every allocation, not a sample
    sample_interval: int  # mean bytes between samples when sampled
    native: bool
    python_allocators: bool
    fail_on_increase: bool
