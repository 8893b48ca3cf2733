"""Hand-made flame data in the shape build_flame_data returns (see
src/memlyze/reports/flame_data.py), for testing the page without a capture."""

from __future__ import annotations

import random

MiB = 1024 * 1024


class _Builder:
    def __init__(self):
        self.strings = [""]
        self.index = {"": 0}
        self.parent, self.function, self.file, self.line = [], [], [], []
        self.bytes, self.count, self.self_bytes = [], [], []

    def s(self, text: str) -> int:
        if text not in self.index:
            self.index[text] = len(self.strings)
            self.strings.append(text)
        return self.index[text]

    def node(self, parent: int, function: str, file: str = "", line: int = 0, self_bytes: int = 0,
             self_count: int = 0) -> int:
        self.parent.append(parent)
        self.function.append(self.s(function))
        self.file.append(self.s(file))
        self.line.append(line)
        self.bytes.append(0)
        self.count.append(0)
        self.self_bytes.append(self_bytes)
        self._self_count = getattr(self, "_self_count", [])
        self._self_count.append(self_count)
        return len(self.parent) - 1

    def finish(self):
        self.bytes = list(self.self_bytes)
        self.count = list(self._self_count)
        for i in range(len(self.parent) - 1, 0, -1):
            self.bytes[self.parent[i]] += self.bytes[i]
            self.count[self.parent[i]] += self.count[i]
        return {
            "parent": self.parent, "function": self.function, "file": self.file, "line": self.line,
            "bytes": self.bytes, "count": self.count, "self_bytes": self.self_bytes,
        }


def _meta(nodes, **overrides):
    meta = {
        "command": "python workload.py --size 3",
        "pid": 4242,
        "python_version": "3.11.2",
        "duration_s": 2.0,
        "peak_bytes": nodes["bytes"][0],
        "peak_time_s": 1.2,
        "total_bytes": nodes["bytes"][0] * 3,
        "total_count": nodes["count"][0] * 3,
        "selection": "peak",
        "selection_label": "memory held at the peak (1.20 s)",
        "inverted": False,
        "sampled": False,
        "sample_description": "every allocation recorded",
        "truncated": False,
        "node_count": len(nodes["parent"]),
        "other_threshold_bytes": 0,
        "folded_count": 0,
        "folded_bytes": 0,
        "min_share": 0.0,
    }
    meta.update(overrides)
    return meta


def _timeline(peak_bytes: int, peak_time: float = 1.2, duration: float = 2.0, points: int = 400):
    times, heap = [], []
    for k in range(points + 1):
        t = duration * k / points
        shape = t / peak_time if t <= peak_time else max(0.3, 1 - (t - peak_time) / duration * 1.5)
        times.append(round(t, 6))
        heap.append(int(peak_bytes * shape * (0.97 + 0.03 * ((k * 7919) % 13) / 13)))
    # the peak itself
    index = min(range(len(times)), key=lambda k: abs(times[k] - peak_time))
    heap[index] = peak_bytes
    rss_times = [round(duration * k / 100, 6) for k in range(101)]
    rss = [int(40 * MiB + peak_bytes * min(t / peak_time, 1.0) * 1.1) for t in rss_times]
    gc = [round(duration * k / 17, 6) for k in range(1, 17)]
    return {"time_s": times, "heap_bytes": heap, "rss_time_s": rss_times, "rss_bytes": rss,
            "gc_time_s": gc, "peak_time_s": peak_time, "peak_bytes": peak_bytes}


def small(*, function_name: str = "decode", file_name: str = "/app/image_cache.py",
          temporal: bool = False, inverted: bool = False, sampled: bool = False) -> dict:
    """A small tree: <module> -> main -> {load -> decode (big), remember, churn}."""
    b = _Builder()
    root = b.node(-1, "<all>")
    module = b.node(root, "<module>", "/app/image_cache.py", 40)
    main = b.node(module, "main", "/app/image_cache.py", 35)
    load = b.node(main, "load", "/app/image_cache.py", 30)
    decode = b.node(load, function_name, file_name, 27, self_bytes=60 * MiB, self_count=40)
    b.node(load, "read_header", "/app/image_cache.py", 25, self_bytes=4 * MiB, self_count=1)
    b.node(main, "remember", "/app/image_cache.py", 33, self_bytes=2 * MiB + 400 * 1024, self_count=39)
    b.node(module, "setup", "/usr/lib/python3.11/importlib/__init__.py", 126, self_bytes=80 * 1024,
           self_count=12)
    nodes = b.finish()
    data = {
        "meta": _meta(nodes, inverted=inverted),
        "strings": b.strings,
        "nodes": nodes,
        "timeline": _timeline(nodes["bytes"][0]),
        "temporal": None,
    }
    if sampled:
        data["meta"]["sampled"] = True
        data["meta"]["sample_description"] = "sampled: one allocation per 512 KiB on average"
    if temporal:
        edges = [round(0.1 * k, 6) for k in range(21)]
        leaves = [decode, decode + 1, decode + 2, decode + 3]
        data["temporal"] = {
            "bucket_edges_s": edges,
            # decode: allocated in buckets 2..11, freed in 15; read_header: bucket 1,
            # never freed; remember: bucket 12, never freed; setup: bucket 0, freed at 3
            "node": [leaves[0]] * 10 + [leaves[1], leaves[2], leaves[3]],
            "alloc_bucket": list(range(2, 12)) + [1, 12, 0],
            "free_bucket": [15] * 10 + [-1, -1, 3],
            "bytes": [6 * MiB] * 10 + [4 * MiB, 2 * MiB + 400 * 1024, 80 * 1024],
            "count": [4] * 10 + [1, 39, 12],
        }
        data["meta"]["selection_label"] = "memory held at the peak (1.20 s); drag on the chart for a time range"
    return data


def big(node_target: int = 120_000, seed: int = 5) -> dict:
    """A wide and deep random tree of about ``node_target`` frames."""
    rng = random.Random(seed)
    b = _Builder()
    root = b.node(-1, "<all>")
    files = [f"/srv/app/pkg{k}/module{k % 37}.py" for k in range(300)]
    frontier = [root]
    made = 1
    while made < node_target:
        parent = rng.choice(frontier)
        depth_ok = len(frontier) < 5000 or rng.random() < 0.5
        k = rng.randrange(5000)
        node = b.node(parent, f"function_{k}", files[k % len(files)], 1 + k % 900,
                      self_bytes=int(rng.paretovariate(1.2) * 1000), self_count=1 + rng.randrange(5))
        made += 1
        if depth_ok:
            frontier.append(node)
        if len(frontier) > 20000:
            frontier = frontier[-10000:]
    nodes = b.finish()
    return {
        "meta": _meta(nodes, command="python big.py", node_count=len(nodes["parent"])),
        "strings": b.strings,
        "nodes": nodes,
        "timeline": _timeline(nodes["bytes"][0], points=20000),
        "temporal": None,
    }
