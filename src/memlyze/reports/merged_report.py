"""Several captures' reports as one (``--merge``): location rows summed by
location, call trees under one root whose children are the processes, and
collapsed stacks whose outermost frame is the process. Each capture keeps
its own selection (the peak: each process at its own peak)."""

from __future__ import annotations

from . import exports, process_tree
from .report_data import node_names


class MergedReport:
    """Reports (report_data.Report) of several captures, in process-tree order."""

    def __init__(self, reports: dict):
        processes = []
        for path, report in reports.items():
            header, summary = report.header, report.summary
            processes.append(process_tree.Process(path, {
                "pid": header["pid"], "parent_pid": header.get("parent_pid"),
                "command": header["command"], "start_time_ns": header.get("start_time_ns") or 0,
                "peak_bytes": summary["peak_bytes"], "total_bytes": summary["total_bytes"]}))
        self.processes = process_tree.build(processes)
        self.reports = [reports[process.path] for process in self.processes]
        first = self.reports[0]
        self.path = "merged"
        self.selection = first.selection
        self.header = {"command": f"{len(self.reports)} processes: {self.processes[0].command}"}
        self.sampled = any(report.sampled for report in self.reports)
        self.sample_description = next(
            (report.sample_description for report in self.reports if report.sampled),
            first.sample_description)
        self.summary = {key: sum(report.summary[key] for report in self.reports)
                        for key in ("peak_bytes", "total_bytes", "total_count")}

    def selection_label(self) -> str:
        label = self.reports[0].selection_label()
        if self.selection == "peak":
            label = "memory held at each process's peak" + label.partition(")")[2]
        return f"{label} (all {len(self.reports)} processes)"

    def location_rows(self) -> list[dict]:
        merged: dict = {}
        numbers = exports.LOCATION_FIELDS[3:]
        for report in self.reports:
            for row in exports.location_rows(report):
                key = (row["function"], row["file"], row["line"])
                into = merged.setdefault(key, dict(zip(exports.LOCATION_FIELDS,
                                                       (*key, *[0] * len(numbers)))))
                for name in numbers:
                    into[name] += row[name]
        rows = list(merged.values())
        rows.sort(key=lambda row: (-row["bytes"], -row["count"], -row["total_bytes"],
                                   row["function"], row["file"], row["line"]))
        return rows

    def tree(self, **options) -> tuple[dict, list]:
        """(tree dict, node names): the processes under one root."""
        parts = []
        for process, report in zip(self.processes, self.reports):
            tree = report.tree(**options)
            parts.append((process.label, tree, node_names(tree, report)))
        return process_tree.merge_trees(parts)

    def collapsed(self) -> str:
        lines = []
        for process, report in zip(self.processes, self.reports):
            prefix = process.label.replace(";", ":").replace("\n", " ").replace("\r", " ")
            lines += [f"{prefix};{line}" for line in exports.collapsed(report).splitlines()]
        return "\n".join(lines) + ("\n" if lines else "")

    def locations_json(self) -> dict:
        return {
            "command": self.header["command"],
            "selection": self.selection,
            "selection_label": self.selection_label(),
            "sampled": self.sampled,
            "sample_description": self.sample_description,
            "processes": process_tree.as_json(self.processes),
            "peak_bytes": self.summary["peak_bytes"],
            "total_bytes": self.summary["total_bytes"],
            "total_count": self.summary["total_count"],
            "locations": self.location_rows(),
        }

    def locations_csv(self) -> str:
        import csv
        import io

        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=exports.LOCATION_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in self.location_rows():
            writer.writerow(row)
        return out.getvalue()
