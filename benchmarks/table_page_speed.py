"""The table page (memlyze table --html) of 6,000 and of 100,000 locations,
baseline and candidate memlyze side by side: page size, time to the first
render, time to sort by a column, time to filter, in headless Chromium.

One capture of benchmarks/workloads/spread_locations.py per row count is
recorded with the baseline (an older memlyze need not read a newer
capture); each memlyze makes its page of it; the pages
are then loaded alternately in one browser. Every time is measured the same
way on both pages: first render is navigation to the load event and two
animation frames after it (the page laid out and painted); sort and filter
are a click on the "count" header (or the search) until two animation
frames later. The baseline page has no search: its filter time is "-".

    python benchmarks/table_page_speed.py --baseline-python /path/to/main/venv/bin/python \\
        --output benchmarks/results/table-page-speed-DATE.md
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
WORKLOAD = HERE / "workloads" / "spread_locations.py"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAINTED = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
# A click on the count column's header: the baseline's <th>, the candidate's button.
SORT = """async () => {
  const header = document.querySelector('#head [data-column=count] button') ||
                 document.querySelectorAll('th')[2];
  const start = performance.now();
  header.click();
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  return performance.now() - start;
}"""
FILTER = """async () => {
  if (!window.memlyzeTable) return null;
  const start = performance.now();
  const state = window.memlyzeTable.search('function_00123');
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  return {ms: performance.now() - start, shown: state.shown};
}"""
ROW_COUNT = """() => window.memlyzeTable ? window.memlyzeTable.state().rows :
  document.querySelectorAll('tbody tr').length"""


def run(command, cwd):
    result = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True,
                            text=True)
    if result.returncode:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{result.stderr}")
    return result


def make_pages(directory, candidate, baseline, locations):
    capture = directory / f"spread-{locations}.mlyze"
    # The baseline records: a newer format may hold records it cannot read.
    run([baseline, "-m", "memlyze", "run", "-o", capture, WORKLOAD, locations], directory)
    pages = {}
    for name, python in (("baseline", baseline), ("candidate", candidate)):
        pages[name] = directory / f"{name}-{locations}.html"
        run([python, "-m", "memlyze", "table", "--html", "-f", "-o", pages[name], capture],
            directory)
    return pages


def load_once(context, path):
    page = context.new_page()
    start = time.perf_counter()
    page.goto(path.resolve().as_uri(), timeout=300_000)
    page.evaluate(PAINTED)
    render = time.perf_counter() - start
    rows = page.evaluate(ROW_COUNT)
    sort_ms = page.evaluate(SORT)
    filtered = page.evaluate(FILTER)
    page.close()
    return {"render_s": render, "sort_s": sort_ms / 1000, "rows": rows,
            "filter_s": filtered["ms"] / 1000 if filtered else None,
            "filter_rows": filtered["shown"] if filtered else None}


def measure(pages, repetitions):
    from playwright.sync_api import sync_playwright

    runs = {name: [] for name in pages}
    with tempfile.TemporaryDirectory(prefix="memlyze-table-speed-") as profile, \
            sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 900}, offline=True)
        # One load of the smaller page to warm the browser up (a baseline page of
        # 100,000 rows takes minutes: its first load is measured like the others).
        load_once(context, min(pages.values(), key=lambda path: path.stat().st_size))
        for _ in range(repetitions):
            for name, path in pages.items():
                runs[name].append(load_once(context, path))
        context.close()
    return runs


def median(runs, key):
    values = [run[key] for run in runs if run[key] is not None]
    return statistics.median(values) if values else None


def milliseconds(value):
    return "-" if value is None else f"{1000 * value:,.0f} ms"


def report(results, repetitions):
    lines = ["# Table page of N locations, baseline and candidate", "",
             f"{repetitions} loads of each page, alternating, in one headless Chromium "
             "(1280x900). First render: navigation to the load event and two animation frames; "
             "sort: a click on the count header until two animation frames later; filter: a "
             "search for function_00123 (function_001230 to 001239: 10 rows) likewise. Medians; "
             "every run in the JSON.", "",
             "| rows | page | HTML size | first render | sort by count | filter |",
             "|---:|---|---:|---:|---:|---:|"]
    ratios = []
    for locations, (pages, runs) in results.items():
        medians = {}
        for name in pages:
            medians[name] = {key: median(runs[name], key) for key in ("render_s", "sort_s",
                                                                     "filter_s")}
            lines.append(f"| {runs[name][0]['rows']:,} | {name} | "
                         f"{pages[name].stat().st_size / 1024:,.0f} KiB | "
                         f"{milliseconds(medians[name]['render_s'])} | "
                         f"{milliseconds(medians[name]['sort_s'])} | "
                         f"{milliseconds(medians[name]['filter_s'])} |")
        ratios.append((locations, medians["candidate"]["render_s"] / medians["baseline"]["render_s"],
                       medians["candidate"]["sort_s"] / medians["baseline"]["sort_s"]))
    lines.append("")
    for locations, render, sort in ratios:
        lines.append(f"{locations:,} locations, candidate / baseline (medians): first render "
                     f"{render:.3f}, sort {sort:.3f}")
    data = {str(locations): {name: {"html_bytes": pages[name].stat().st_size, "runs": runs[name]}
                             for name in pages}
            for locations, (pages, runs) in results.items()}
    return "\n".join(lines) + "\n", {"repetitions": repetitions, "results": data}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-python", required=True,
                        help="the interpreter with the baseline memlyze installed")
    parser.add_argument("--candidate-python", default=sys.executable)
    parser.add_argument("--locations", type=int, nargs="+", default=[6000, 100_000])
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--output", type=pathlib.Path, help="Markdown file (and .json beside it)")
    options = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="memlyze-table-speed-") as directory:
        for locations in options.locations:
            pages = make_pages(pathlib.Path(directory), options.candidate_python,
                               options.baseline_python, locations)
            results[locations] = (pages, measure(pages, options.repetitions))
        text, result = report(results, options.repetitions)
    print(text)
    if options.output:
        options.output.write_text(text)
        options.output.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
