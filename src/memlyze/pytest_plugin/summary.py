"""The end-of-run summary: the hungriest tests and their largest stacks."""

from __future__ import annotations

from .. import formatting as fmt
from .messages import size, stack_lines

SUMMARY_STACKS = 5  # stacks shown per test, each with --memlyze-stacks frames


def hungriest(results: dict, top: int) -> list[dict]:
    """The top tests by peak (all when top is 0), largest first."""
    ordered = sorted(results.values(), key=lambda figures: (-figures["peak"], figures["test"]))
    return ordered if top == 0 else ordered[:top]


def _sampling_note(results: dict, sample_interval: int) -> str | None:
    sampled = sum(1 for figures in results.values() if figures["sampled"])
    if not sampled:
        return "Every allocation recorded: figures are exact."
    exact = len(results) - sampled
    note = (f"Sampled ({sampled} test{'s' if sampled != 1 else ''}, one sample per "
            f"{fmt.human_bytes(sample_interval)} allocated on average): figures marked ~ are "
            f"estimates, with their 95% intervals")
    if exact:
        note += f"; {exact} test{'s' if exact != 1 else ''} with a limit recorded in full"
    return note + ". --memlyze-full records every allocation."


def render(results: dict, *, top: int, frames_shown: int, sample_interval: int) -> list[str]:
    """The summary's lines (without its title)."""
    if not results:
        return ["No test was recorded."]
    lines = ["Peak: the most memory a test's own allocations held at once "
             "(what was live before it started is not counted).",
             _sampling_note(results, sample_interval), ""]
    for rank, figures in enumerate(hungriest(results, top), start=1):
        estimate = figures["sampled"]
        leaked = ("~" if estimate and figures["leaked"] else "") + fmt.human_bytes(figures["leaked"])
        lines.append(f"{rank}. {fmt.terminal_text(figures['test'])}: peak "
                     f"{size(figures['peak'], figures['peak_ci95'])}, leaked {leaked}")
        if figures.get("capture"):
            lines.append(f"    capture: {fmt.terminal_text(figures['capture'])}")
        lines.extend(stack_lines(figures["top_stacks"][:SUMMARY_STACKS], frames_shown,
                                 estimates=estimate, more=False, whole=figures["peak"]))
    return lines
