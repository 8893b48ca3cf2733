"""Readers of every memlyze report, for test_report_agreement.py.

Each reader turns one report of a capture into ``Figures``: the selected
bytes in total (the peak, or what leaked) and the bytes per location, a
location being (function, file, line) of the innermost Python frame
(``NO_FRAME`` for memory allocated with no Python frame). Every reader
takes the report's exact, machine-readable form (JSON, CSV, the data-value
attributes of an HTML table, the JSON inside the table and flame graph pages, a decoded
pprof file, the Python data layer), never rounded text, so figures compare
as integers.
"""

from __future__ import annotations

import gzip
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from conftest import check, clean_env, memlyze

NO_FRAME = ("<no Python frame>", "", 0)
SELECTIONS = ("peak", "leaks")


@dataclass
class Figures:
    """What one report says about one selection of a capture.

    total: the selection's bytes (None when the report does not show it);
    locations: bytes per location; complete: False when the report lists only
    some locations (a missing one is then unknown, not zero)."""

    report: str
    total: int | None
    locations: dict = field(default_factory=dict)
    complete: bool = True

    def bytes_at(self, key):
        if key in self.locations:
            return self.locations[key]
        return 0 if self.complete else None

    def top(self, n=5) -> list:
        """The n largest locations (ties broken by name, so the set is stable)."""
        ranked = sorted(self.locations.items(), key=lambda item: (-item[1], item[0]))
        return [key for key, nbytes in ranked[:n] if nbytes > 0]


def _add(locations: dict, key, nbytes: int) -> None:
    locations[key] = locations.get(key, 0) + nbytes


def _key(function, file, line) -> tuple:
    return (str(function), str(file), int(line))


def is_python_file(file: str) -> bool:
    """Whether a frame's file is Python source (native frames of a --native
    capture have C files, or none)."""
    return file.endswith(".py") or file.startswith("<")


def selector_args(selection: str) -> list[str]:
    return ["--leaks"] if selection == "leaks" else []


def run(*args, cwd) -> str:
    return check(memlyze(*args, cwd=cwd, env=clean_env())).stdout


# --- memlyze stats --json (and the summary, which uses the same analysis) ---

def from_analysis(name: str, analysis: dict, selection: str, top: int) -> Figures:
    """The figures of stats --json -n TOP (or what summary loads): complete
    when its top list is shorter than TOP."""
    if selection == "peak":
        total, entries = analysis["peak_bytes"], analysis["top_by_peak"]
    else:
        total, entries = analysis["leaked_bytes"], analysis["top_leaks"]
    figures = Figures(name, total, complete=len(entries) < top)
    for entry in entries:
        _add(figures.locations, _key(entry["function"], entry["file"], entry["line"]),
             entry["bytes"])
    return figures


ALL = 1_000_000  # -n large enough that the top lists hold every location


def stats_json(capture, cwd, top=ALL) -> dict:
    return json.loads(run("stats", "--json", "-n", top, capture, cwd=cwd))


def summary_analysis(capture, top=ALL) -> dict:
    """What `memlyze summary` renders: its own loader, in this process."""
    from memlyze.cli._common import load_summary

    return load_summary(str(capture), top)


# --- the report pass (ReportCollection): table, exports, flame graph, diff ---

_ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
_CELL = re.compile(r"<td([^>]*)>(.*?)</td>", re.S)
_VALUE = re.compile(r'data-value="(-?\d+)"')


def html_rows(page: str) -> list[list[tuple[int | None, str]]]:
    """The body rows of a memlyze HTML table: per cell (data-value, text)."""
    rows = []
    for row in _ROW.findall(page):
        cells = []
        for attributes, text in _CELL.findall(row):
            value = _VALUE.search(attributes)
            cells.append((int(value.group(1)) if value else None, html.unescape(text)))
        if cells:
            rows.append(cells)
    return rows


def _where_key(function: str, where: str) -> tuple:
    if not where:
        return _key(function, "", 0)
    file, _, line = where.rpartition(":")
    return _key(function, file, line)


def table_page_data(page: str) -> dict:
    """The JSON rows inside a `memlyze table --html` page."""
    found = re.search(r'<script type="application/json" id="table-data">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def table_html(capture, selection, directory: Path) -> Figures:
    """`memlyze table --html`: the rows of the page's data (its columns
    function, file, line, bytes, ...)."""
    out = directory / f"table-{selection}.html"
    run("table", "--html", "--sort", "bytes", "-o", out,
        *selector_args(selection), capture, cwd=directory)
    figures = Figures("table --html", 0)
    data = table_page_data(out.read_text(encoding="utf-8"))
    rows, strings = data["rows"], data["strings"]
    for function, file, line, nbytes in zip(rows["function"], rows["file"], rows["line"],
                                            rows["bytes"]):
        figures.total += nbytes
        _add(figures.locations, _key(strings[function], strings[file], line), nbytes)
    return figures


def table_api(capture, selection) -> Figures:
    """The rows `memlyze table` prints (its sorted_rows), in this process."""
    from memlyze.cli.table import sorted_rows
    from memlyze.reports.report_data import open_report

    report = open_report(str(capture), selection=selection, progress=None)
    figures = Figures("table (sorted_rows)", 0)
    for row in sorted_rows(report, "bytes"):
        figures.total += row["bytes"]
        _add(figures.locations, _key(row["function"], row["file"], row["line"]), row["bytes"])
    return figures


def export_csv(capture, selection, directory: Path) -> Figures:
    import csv
    import io

    text = run("export", "--format", "csv", *selector_args(selection), capture, cwd=directory)
    figures = Figures("export csv", 0)
    for row in csv.DictReader(io.StringIO(text)):
        figures.total += int(row["bytes"])
        _add(figures.locations, _key(row["function"], row["file"], row["line"]), int(row["bytes"]))
    return figures


def export_json(capture, selection, directory: Path) -> tuple[Figures, Figures]:
    """(the rows, and the peak_bytes field as the total of a peak selection)."""
    data = json.loads(run("export", "--format", "json", *selector_args(selection), capture,
                          cwd=directory))
    rows = Figures("export json rows", 0)
    for row in data["locations"]:
        rows.total += row["bytes"]
        _add(rows.locations, _key(row["function"], row["file"], row["line"]), row["bytes"])
    header = Figures("export json peak_bytes", data["peak_bytes"] if selection == "peak" else None,
                     complete=False)
    return rows, header


_COLLAPSED_FRAME = re.compile(r"^(.*) \((.*):(\d+)\)$")


def collapsed_frame(label: str):
    """(function, file, line) of a collapsed-stack frame label, or None."""
    match = _COLLAPSED_FRAME.match(label)
    if match:
        return _key(match.group(1), match.group(2), match.group(3))
    return None


def export_collapsed(capture, selection, directory: Path) -> Figures:
    text = run("export", "--format", "collapsed", *selector_args(selection), capture,
               cwd=directory)
    figures = Figures("export collapsed", 0)
    for line in text.splitlines():
        if not line:
            continue
        stack, _, nbytes = line.rpartition(" ")
        nbytes = int(nbytes)
        figures.total += nbytes
        key = NO_FRAME
        for label in reversed(stack.split(";")):  # innermost first
            frame = collapsed_frame(label)
            if frame and is_python_file(frame[1]):
                key = frame
                break
        _add(figures.locations, key, nbytes)
    return figures


def export_speedscope(capture, selection, directory: Path) -> Figures:
    data = json.loads(run("export", "--format", "speedscope", *selector_args(selection), capture,
                          cwd=directory))
    frames = data["shared"]["frames"]
    profile = data["profiles"][0]
    figures = Figures("export speedscope", 0)
    for stack, weight in zip(profile["samples"], profile["weights"]):
        figures.total += weight
        key = NO_FRAME
        for index in reversed(stack):  # samples are outermost first
            frame = frames[index]
            if "file" in frame and is_python_file(frame["file"]):
                key = _key(frame["name"], frame["file"], frame["line"])
                break
        _add(figures.locations, key, weight)
    return figures


# --- pprof: profile.proto decoded by hand ---

def protobuf_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def protobuf_fields(data: bytes):
    """Yields (field number, wire type, value): an int for varints, bytes for
    length-delimited fields (the only two wire types profile.proto uses here)."""
    position = 0
    while position < len(data):
        key, position = protobuf_varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = protobuf_varint(data, position)
        elif wire == 2:
            size, position = protobuf_varint(data, position)
            value = data[position:position + size]
            position += size
        elif wire == 1:
            value, position = int.from_bytes(data[position:position + 8], "little"), position + 8
        elif wire == 5:
            value, position = int.from_bytes(data[position:position + 4], "little"), position + 4
        else:
            raise ValueError(f"wire type {wire} at byte {position}")
        yield number, wire, value


def protobuf_packed(wire: int, value) -> list[int]:
    if wire == 0:
        return [value]
    numbers, position = [], 0
    while position < len(value):
        number, position = protobuf_varint(value, position)
        numbers.append(number)
    return numbers


def decode_pprof(path) -> dict:
    """profile.proto as {"sample_types", "samples": [(location ids, values)],
    "locations": {id: [(function id, line)]}, "functions": {id: (name,
    system_name, filename)}} with names resolved through the string table."""
    data = gzip.decompress(Path(path).read_bytes())
    strings, sample_types, samples, locations, functions = [], [], [], {}, {}
    for number, wire, value in protobuf_fields(data):
        if number == 1:  # sample_type
            fields = {n: v for n, _, v in protobuf_fields(value)}
            sample_types.append((fields.get(1, 0), fields.get(2, 0)))
        elif number == 2:  # sample
            ids, values = [], []
            for n, w, v in protobuf_fields(value):
                if n == 1:
                    ids += protobuf_packed(w, v)
                elif n == 2:
                    values += protobuf_packed(w, v)
            samples.append((ids, values))
        elif number == 4:  # location
            location_id, lines = 0, []
            for n, _, v in protobuf_fields(value):
                if n == 1:
                    location_id = v
                elif n == 4:
                    line = {n2: v2 for n2, _, v2 in protobuf_fields(v)}
                    lines.append((line.get(1, 0), line.get(2, 0)))
            locations[location_id] = lines
        elif number == 5:  # function
            fields = {n: v for n, _, v in protobuf_fields(value)}
            functions[fields.get(1, 0)] = (fields.get(2, 0), fields.get(3, 0), fields.get(4, 0))
        elif number == 6:
            strings.append(value.decode("utf-8", "replace"))
    return {
        "sample_types": [(strings[t], strings[u]) for t, u in sample_types],
        "samples": samples,
        "locations": locations,
        "functions": {fid: tuple(strings[i] for i in names) for fid, names in functions.items()},
    }


def export_pprof(capture, selection, directory: Path) -> Figures:
    out = directory / f"profile-{selection}.pb.gz"
    run("export", "--format", "pprof", "-o", out, *selector_args(selection), capture,
        cwd=directory)
    profile = decode_pprof(out)
    index = profile["sample_types"].index(("inuse_space", "bytes"))
    figures = Figures("export pprof inuse_space", 0)
    for ids, values in profile["samples"]:
        nbytes = values[index]
        figures.total += nbytes
        key = NO_FRAME
        for location_id in ids:  # innermost first
            function_id, line = profile["locations"][location_id][0]
            _, system_name, filename = profile["functions"][function_id]
            if filename and is_python_file(filename):
                key = _key(system_name, filename, line)
                break
        _add(figures.locations, key, nbytes)
    return figures


# --- the flame graph ---

def flame_locations(name: str, data: dict, total: int) -> Figures:
    """Per location from a flame graph dict (build_flame_data's shape): each
    node's self bytes go to the innermost Python frame on its path."""
    strings, nodes = data["strings"], data["nodes"]
    parents = nodes["parent"]
    figures = Figures(name, total)

    def frame(index):
        return _key(strings[nodes["function"][index]], strings[nodes["file"][index]],
                    nodes["line"][index])

    for index, self_bytes in enumerate(nodes["self_bytes"]):
        if index == 0 or not self_bytes:
            continue
        key, node = NO_FRAME, index
        while node > 0:
            candidate = frame(node)
            if candidate[1] and is_python_file(candidate[1]):
                key = candidate
                break
            node = parents[node]
        _add(figures.locations, key, self_bytes)
    return figures


def flame_inverted_locations(name: str, data: dict) -> Figures:
    """Per location from an inverted (icicle) tree: the inclusive bytes of
    the first Python frame below the root on each path."""
    strings, nodes = data["strings"], data["nodes"]
    children: list[list[int]] = [[] for _ in nodes["parent"]]
    for index, parent in enumerate(nodes["parent"]):
        if index and parent >= 0:
            children[parent].append(index)
    figures = Figures(name, nodes["bytes"][0])
    pending = list(children[0])
    while pending:
        index = pending.pop()
        file = strings[nodes["file"][index]]
        if file and is_python_file(file):
            _add(figures.locations, _key(strings[nodes["function"][index]], file,
                                         nodes["line"][index]), nodes["bytes"][index])
            continue
        if nodes["self_bytes"][index]:
            _add(figures.locations, NO_FRAME, nodes["self_bytes"][index])
        pending += children[index]
    return figures


def flame_data_exact(capture, selection, inverted=False) -> Figures:
    """build_flame_data with nothing folded into "other", in this process."""
    from memlyze.reports.flame_data import build_flame_data

    data = build_flame_data(str(capture), selection=selection, inverted=inverted,
                            min_share=0.0, max_nodes=2**40, progress=None)
    if inverted:
        return flame_inverted_locations("flame data (inverted)", data)
    return flame_locations("flame data", data, data["nodes"]["bytes"][0])


_DATA = re.compile(r'<script[^>]*type="application/json"[^>]*>(.*?)</script>', re.S)


def flame_page(capture, selection, directory: Path) -> list[Figures]:
    """`memlyze flamegraph`: the JSON inside the page. Its tree folds small
    nodes into "other", so only totals are exact: the root and meta figures."""
    out = directory / f"flame-{selection}.html"
    run("flamegraph", "-f", "-o", out, *selector_args(selection), capture, cwd=directory)
    match = _DATA.search(out.read_text(encoding="utf-8"))
    assert match, f"no JSON data in {out}"
    data = json.loads(match.group(1))
    found = [Figures("flamegraph page root", data["nodes"]["bytes"][0], complete=False),
             Figures("flamegraph page meta.total_bytes", data["meta"]["total_bytes"],
                     complete=False)]
    if selection == "peak":
        found.append(Figures("flamegraph page meta.peak_bytes", data["meta"]["peak_bytes"],
                             complete=False))
        found.append(Figures("flamegraph page timeline.peak_bytes",
                             data["timeline"]["peak_bytes"], complete=False))
    return found


# --- diff against a capture of an empty program ---

def diff_html(baseline, capture, selection, directory: Path) -> Figures:
    """`memlyze diff --html BASELINE CAPTURE`: the "after" column of every
    location that changed (one that did not is not listed: incomplete)."""
    out = directory / f"diff-{selection}.html"
    run("diff", "--html", "-o", out, *selector_args(selection), baseline, capture, cwd=directory)
    figures = Figures("diff --html (after)", None, complete=False)
    for cells in html_rows(out.read_text(encoding="utf-8")):
        figures.locations[_where_key(cells[4][1], cells[5][1])] = cells[2][0]
    return figures


# --- the in-process reader API ---

def file_reader(capture, selection) -> Figures:
    import memlyze

    with memlyze.FileReader(str(capture)) as reader:
        allocations = reader.peak_allocations() if selection == "peak" else reader.leaks()
        figures = Figures("FileReader." + ("peak_allocations()" if selection == "peak"
                                           else "leaks()"), 0)
        for allocation in allocations:
            figures.total += allocation.bytes
            location = allocation.location
            key = NO_FRAME if location is None else _key(*location)
            _add(figures.locations, key, allocation.bytes)
    return figures


# --- the comparison ---

def disagreements(reference: Figures, others: list[Figures], n: int = 5) -> list[str]:
    """Every figure in which a report differs from the reference: the total,
    and the bytes of each location in the top n of either."""
    problems = []
    for figures in others:
        if figures.total is not None and figures.total != reference.total:
            problems.append(f"total: {reference.report} {reference.total:,} vs {figures.report} "
                            f"{figures.total:,} (diff {figures.total - reference.total:+,})")
        if not figures.locations and not figures.complete:
            continue
        keys = list(dict.fromkeys(reference.top(n) + (figures.top(n) if figures.complete else [])))
        for key in keys:
            theirs, ours = figures.bytes_at(key), reference.bytes_at(key)
            where = f"{key[0]} {Path(key[1]).name}:{key[2]}" if key[1] else key[0]
            if ours is None:  # the reference lists only its largest locations
                problems.append(f"location {where}: in the top {n} of {figures.report} "
                                f"({theirs:,}) but not in the {len(reference.locations)} "
                                f"largest of {reference.report}")
                continue
            if theirs is None or theirs == ours:
                continue
            problems.append(f"location {where}: {reference.report} {ours:,} vs {figures.report} "
                            f"{theirs:,} (diff {theirs - ours:+,})")
    return problems
