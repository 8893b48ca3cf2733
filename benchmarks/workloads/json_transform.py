"""A call-heavy workload: builds a few MB of JSON, then transforms it
recursively into Record/Node/Leaf objects and back into a normalised
structure. Run with a configuration name (see benchmarks/rss_tracing.py):

    python json_transform.py CONFIGURATION LOG_DIRECTORY [RECORDS]

Prints one JSON line: seconds of the transformation inside the
configuration's context, and the bytes of log it wrote.
"""

import json
import os
import random
import sys
import time


class Record:
    def __init__(self, identifier, root):
        self.identifier = identifier
        self.root = root


class Node:
    def __init__(self, kind, children):
        self.kind = kind
        self.children = children


class Leaf:
    def __init__(self, value):
        self.value = value


def make_document(records, seed=1234):
    generator = random.Random(seed)

    def value(depth):
        choice = generator.random()
        if depth >= 3 or choice < 0.45:
            return generator.choice([generator.randint(0, 10**6), generator.random(),
                                     "Text-%d" % generator.randint(0, 999), True, None])
        if choice < 0.75:
            return {"Key%d" % index: value(depth + 1) for index in range(generator.randint(2, 5))}
        return [value(depth + 1) for _ in range(generator.randint(2, 5))]

    return json.dumps([{"Id": index, "Payload": value(0), "Tags": [value(2) for _ in range(3)]}
                       for index in range(records)])


def to_tree(value):
    if isinstance(value, dict):
        return Node("dict", [(key.lower(), to_tree(item)) for key, item in value.items()])
    if isinstance(value, list):
        return Node("list", [to_tree(item) for item in value])
    return Leaf(value)


def from_tree(node):
    if isinstance(node, Leaf):
        value = node.value
        return value * 2 if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if node.kind == "dict":
        return {key: from_tree(child) for key, child in node.children}
    return [from_tree(child) for child in node.children]


def transform(text):
    records = [Record(item["Id"], to_tree(item)) for item in json.loads(text)]
    return json.dumps([from_tree(record.root) for record in records])


def context(configuration, directory):
    """The context manager a configuration runs the transformation in."""
    import contextlib

    if configuration == "python":
        return contextlib.nullcontext()
    if configuration == "null_hook":
        from memlyze import _memlyze

        @contextlib.contextmanager
        def null_hook():
            _memlyze._null_profile_start()
            try:
                yield
            finally:
                _memlyze._null_profile_stop()
        return null_hook()
    if configuration.startswith("pymemtrace_"):
        from pymemtrace import cPyMemTrace

        kind = {"pymemtrace_profile": cPyMemTrace.Profile,
                "pymemtrace_trace": cPyMemTrace.Trace}[configuration]
        return kind(d_rss_trigger=-1, filepath=os.path.join(directory, "pymemtrace.log"))
    from memlyze import cpymemtrace

    return {
        "memlyze_profile": lambda: cpymemtrace.Profile(-1, filepath=directory),
        "memlyze_trace": lambda: cpymemtrace.Trace(-1, filepath=directory),
        "memlyze_profile_every_event": lambda: cpymemtrace.Profile(0, filepath=directory),
        "memlyze_reference_one_class": lambda: cpymemtrace.ReferenceTracing(
            include_tp_names=["Record"], filepath=directory),
        "memlyze_reference_all_types": lambda: cpymemtrace.ReferenceTracing(filepath=directory),
    }[configuration]()


def main():
    configuration, directory = sys.argv[1], sys.argv[2]
    records = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
    text = make_document(records)
    started = time.perf_counter()
    with context(configuration, directory):
        result = transform(text)
    seconds = time.perf_counter() - started
    log_bytes = sum(os.path.getsize(os.path.join(directory, name)) for name in os.listdir(directory))
    print(json.dumps({"seconds": seconds, "log_bytes": log_bytes, "input_bytes": len(text),
                      "output_bytes": len(result)}))


if __name__ == "__main__":
    main()
