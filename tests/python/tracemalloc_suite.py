"""Runs CPython's own test_tracemalloc (the running interpreter's copy) on one
tracemalloc module and writes each test's outcome as JSON.

    python tracemalloc_suite.py standard|memlyze OUTPUT.json

With "memlyze", memlyze.tracemalloc is put in sys.modules["tracemalloc"]
before the test module is imported, so the test's `import tracemalloc` (and
its `patch('tracemalloc.linecache.getline')`) get ours. Only the classes
about the public API run: PUBLIC_API_CLASSES. Left out: TestCommandLine (it
starts new interpreters with -X tracemalloc / PYTHONTRACEMALLOC, which turn
on the standard module inside CPython's startup; no module can take that
over) and TestCAPI (it calls the C API of the standard module's own tables
through _testcapi/_testinternalcapi).

The test module is CPython's code: it is found in the interpreter's test
package, never copied here. Every interpreter scripts/test.sh runs the suite
on has it: pyenv builds install Lib/test, and so does the 3.13t source build
of scripts/interpreters.sh (make install). One without it (Debian's
python3.X without libpython3.X-testsuite) stops the runner with a one-line
reason, and test_tracemalloc_suite.py fails with it. The
output holds "outcomes", mapping "Class.test_name" to "passed", "failed",
"error" or "skipped", "details", the text of each failure, and "module", the
name of the tracemalloc module the tests used.
"""

from __future__ import annotations

import importlib
import json
import sys
import unittest

PUBLIC_API_CLASSES = ("TestTraceback", "TestTracemallocEnabled", "TestSnapshot", "TestFilters")
MODULES = ("standard", "memlyze")
# CPython's regrtest runs each test about 20 frames down; test_snapshot
# expects a trace more than 10 frames deep ("This can vary"), so the suite
# runs as deep as there, not from a shallow script.
REGRTEST_DEPTH = 12


def load_test_module(which: str):
    """Imports test.test_tracemalloc with which tracemalloc module in place."""
    if which == "memlyze":
        from memlyze import tracemalloc as ours

        sys.modules["tracemalloc"] = ours
    try:
        return importlib.import_module("test.test_tracemalloc")
    except ImportError as error:
        raise SystemExit(
            f"{sys.executable} has no test.test_tracemalloc ({error}): this interpreter was "
            "installed without CPython's test package (Lib/test)") from None


def collect(module) -> unittest.TestSuite:
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for name in PUBLIC_API_CLASSES:
        suite.addTests(loader.loadTestsFromTestCase(getattr(module, name)))
    return suite


def run_deep(function, argument, depth: int = REGRTEST_DEPTH):
    """function(argument), called depth frames down."""
    if depth:
        return run_deep(function, argument, depth - 1)
    return function(argument)


def test_name(test: unittest.TestCase) -> str:
    return f"{type(test).__name__}.{test._testMethodName}"


def outcomes(result: unittest.TestResult, suite: unittest.TestSuite) -> dict:
    found = {test_name(test): "passed" for test in suite}
    details = {}
    for kind, entries in (("failed", result.failures), ("error", result.errors)):
        for test, text in entries:
            found[test_name(test)] = kind
            details[test_name(test)] = text
    for test, reason in result.skipped:
        found[test_name(test)] = "skipped"
        details[test_name(test)] = reason
    for test, text in result.expectedFailures:
        found[test_name(test)] = "failed"
        details[test_name(test)] = text
    return {"outcomes": found, "details": details}


def main(arguments: list) -> int:
    if len(arguments) != 2 or arguments[0] not in MODULES:
        raise SystemExit("usage: tracemalloc_suite.py standard|memlyze OUTPUT.json")
    which, output = arguments
    module = load_test_module(which)
    tests = collect(module)
    listed = list(tests)  # the suite empties itself as it runs
    result = run_deep(unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run, tests)
    found = outcomes(result, listed)
    found["module"] = module.tracemalloc.__name__  # the module the tests really used
    with open(output, "w", encoding="utf-8") as stream:
        json.dump(found, stream, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
