"""The flame graph page of a program whose memory is spread out, baseline
and candidate memlyze side by side: page size, frames on the page, the share
of the selection folded into "other" frames, and the render time in headless
Chromium (from navigation to the page's first complete draw: the
html[data-ready] attribute its script sets after drawing), repeated.

One capture of benchmarks/workloads/spread_functions.py (2,000 functions of
71 KiB each) is recorded with the baseline (an older memlyze need not read a newer
capture); each memlyze makes its page of
it; the two pages are then loaded alternately in one browser.

    python benchmarks/flamegraph_page_speed.py --baseline-python /path/to/main/venv/bin/python \\
        --output benchmarks/results/flamegraph-page-speed-DATE.md
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
WORKLOAD = HERE / "workloads" / "spread_functions.py"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# The page's own account of itself, read after it is drawn.
PAGE_FIGURES = """() => {
  const state = window.memlyzeFlame.state();
  let other = 0;
  for (const node of window.memlyzeFlame.findNodes("other")) other += window.memlyzeFlame.frame(node).bytes;
  return {nodes: state.nodeCount, total: state.totalBytes, other: other};
}"""


def run(command, cwd):
    result = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True,
                            text=True)
    if result.returncode:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{result.stderr}")
    return result


def make_pages(directory, candidate, baseline, functions):
    capture = directory / "spread.mlyze"
    # The baseline records: a newer format may hold records it cannot read.
    run([baseline, "-m", "memlyze", "run", "-o", capture, WORKLOAD, functions], directory)
    pages = {}
    for name, python in (("baseline", baseline), ("candidate", candidate)):
        pages[name] = directory / f"{name}.html"
        run([python, "-m", "memlyze", "flamegraph", "-f", "-o", pages[name], capture], directory)
    return pages


def load_once(context, path):
    page = context.new_page()
    start = time.perf_counter()
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("html[data-ready=true]", timeout=120_000)
    elapsed = time.perf_counter() - start
    figures = page.evaluate(PAGE_FIGURES)
    page.close()
    return elapsed, figures


def measure(pages, repetitions):
    from playwright.sync_api import sync_playwright

    times = {name: [] for name in pages}
    figures = {}
    with tempfile.TemporaryDirectory(prefix="memlyze-page-speed-") as profile, \
            sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 900}, offline=True)
        for name, path in pages.items():  # one load each to warm the browser up
            load_once(context, path)
        for _ in range(repetitions):
            for name, path in pages.items():
                elapsed, figures[name] = load_once(context, path)
                times[name].append(elapsed)
        context.close()
    return times, figures


def report(pages, times, figures, functions, repetitions):
    rows = {}
    for name in pages:
        size = pages[name].stat().st_size
        folded = figures[name]["other"] / figures[name]["total"] if figures[name]["total"] else 0
        rows[name] = {"html_bytes": size, "nodes": figures[name]["nodes"],
                      "folded_share": folded, "render_s": times[name],
                      "render_median_s": statistics.median(times[name])}
    ratio = rows["candidate"]["render_median_s"] / rows["baseline"]["render_median_s"]
    lines = [f"# Flame graph page of {functions} functions of 71 KiB, baseline and candidate",
             "", f"{repetitions} loads of each page, alternating, in one headless Chromium "
             "(1280x900); render time is navigation to the first complete draw.", "",
             "| page | HTML size | frames | folded into \"other\" | median render | all renders |",
             "|---|---:|---:|---:|---:|---|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['html_bytes'] / 1024:,.1f} KiB | {row['nodes']:,} | "
                     f"{100 * row['folded_share']:.1f}% | {1000 * row['render_median_s']:.0f} ms | "
                     + ", ".join(f"{1000 * value:.0f}" for value in row["render_s"]) + " ms |")
    lines += ["", f"Render time ratio (candidate / baseline, medians): {ratio:.2f}"]
    return "\n".join(lines) + "\n", {"functions": functions, "repetitions": repetitions,
                                     "pages": rows, "render_ratio": ratio}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-python", required=True,
                        help="the interpreter with the baseline memlyze installed")
    parser.add_argument("--candidate-python", default=sys.executable)
    parser.add_argument("--functions", type=int, default=2000)
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument("--output", type=pathlib.Path, help="Markdown file (and .json beside it)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="memlyze-page-speed-") as directory:
        pages = make_pages(pathlib.Path(directory), options.candidate_python,
                           options.baseline_python, options.functions)
        times, figures = measure(pages, options.repetitions)
        text, result = report(pages, times, figures, options.functions, options.repetitions)
    print(text)
    if options.output:
        options.output.write_text(text)
        options.output.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
