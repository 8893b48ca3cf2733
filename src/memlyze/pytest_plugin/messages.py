"""The texts the plugin shows: failures of limits and increases, and the
summary's stacks. Figures of sampled tests are marked as estimates."""

from __future__ import annotations

from .. import formatting as fmt

FAILURE_STACKS = 5  # stacks shown under a failed limit
FAILURE_FRAMES = 8  # innermost frames shown per stack there, at least


def size(figure: int, interval=None) -> str:
    """'24.0 MiB', or '~24.0 MiB (95%: 22.1 MiB-26.0 MiB)' for an estimate."""
    if interval is None:
        return fmt.human_bytes(figure)
    low, high = interval
    return f"~{fmt.human_bytes(figure)} (95%: {fmt.human_bytes(low)}-{fmt.human_bytes(high)})"


def stack_lines(entries: list, frames_shown: int, indent: str = "    ",
                estimates: bool = False, more: bool = True, whole: int = 0) -> list[str]:
    """Each stack as its bytes and count, then its innermost frames (and how
    many more there are when ``more``). Stacks under 1% of ``whole`` (noise
    such as pytest's own bookkeeping) are left out."""
    lines = []
    for entry in entries:
        if whole and entry["bytes"] * 100 < whole:
            continue
        count = entry["count"]
        approximately = "~" if estimates else ""
        lines.append(f"{indent}{approximately}{fmt.human_bytes(entry['bytes'])} in "
                     f"{approximately}{fmt.human_count(count)} allocation"
                     f"{'' if count == 1 else 's'}")
        frames = entry["frames"]
        if not frames:
            lines.append(f"{indent}    <no Python frame>")
        for frame in frames[:frames_shown]:
            lines.append(f"{indent}    {fmt.location(frame)}")
        if more and len(frames) > frames_shown:
            lines.append(f"{indent}    ... {len(frames) - frames_shown} more frame"
                         f"{'' if len(frames) - frames_shown == 1 else 's'}")
    return lines


def _limit_text(text: str, limit: int) -> str:
    return text if text.strip() == str(limit) else f"{text} ({limit:,} bytes)"


def limit_problems(figures: dict, limits, frames_shown: int = FAILURE_FRAMES) -> list[str]:
    """A failure text per limit the test's exact figures exceed."""
    problems = []
    if limits.memory is not None and figures["peak"] > limits.memory:
        problems.append("\n".join([
            f"memlyze: {figures['test']} held {fmt.human_bytes(figures['peak'])} "
            f"({figures['peak']:,} bytes) at its peak, over its limit of "
            f"{_limit_text(limits.memory_text, limits.memory)} from {limits.memory_source}.",
            "Largest stacks at the peak:",
            *stack_lines(figures["top_stacks"][:FAILURE_STACKS], frames_shown,
                         whole=figures["peak"]),
        ]))
    if limits.leaks is not None and figures["leaked"] > limits.leaks:
        filtered = " (stacks kept by filter_fn)" if limits.leak_filter is not None else ""
        problems.append("\n".join([
            f"memlyze: {figures['test']} leaked {fmt.human_bytes(figures['leaked'])} "
            f"({figures['leaked']:,} bytes){filtered}, over its limit_leaks of "
            f"{_limit_text(limits.leaks_text, limits.leaks)}.",
            "Largest leaking stacks:",
            *stack_lines(figures.get("leak_stacks", [])[:FAILURE_STACKS], frames_shown,
                         whole=figures["leaked"]),
        ]))
    return problems


def increase_problem(figures: dict, previous: dict, baseline_path: str, new_path: str) -> str:
    return "\n".join([
        f"memlyze: {figures['test']} held {size(figures['peak'], figures['peak_ci95'])} at its "
        f"peak, more than {size(previous['peak'], previous['peak_ci95'])} in the previous run "
        f"(--memlyze-fail-on-increase).",
        f"Previous capture (kept as the baseline): {fmt.terminal_text(baseline_path)}",
        f"This run's capture: {fmt.terminal_text(new_path)}",
        "Largest stacks at the peak:",
        *stack_lines(figures["top_stacks"][:FAILURE_STACKS], FAILURE_FRAMES,
                     estimates=figures["sampled"], whole=figures["peak"]),
    ])
