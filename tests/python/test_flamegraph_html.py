"""The flame graph page's HTML, without a browser: escaping of the embedded
data, self-containment, the CSP, and the command's argument errors."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import flame_fixture
from conftest import assert_one_line_error, memlyze

from memlyze.reports import flamegraph_html

XSS_FUNCTION = "<img src=x onerror=alert(1)>"
XSS_FILE = "/tmp/</script><script>alert(2)</script>\"quoted\" 'single' &amp; \u2028.py"


def _data_element(page: str) -> str:
    match = re.search(r'<script type="application/json" id="flame-data">(.*?)</script>', page, re.S)
    assert match, "no flame-data element"
    return match.group(1)


def test_embedded_data_cannot_end_its_element():
    data = flame_fixture.small(function_name=XSS_FUNCTION, file_name=XSS_FILE)
    page = flamegraph_html.render(data)
    embedded = _data_element(page)
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in embedded, f"{raw!r} is not escaped"
    assert "</script>" not in embedded.lower()
    assert json.loads(embedded) == data  # JSON escapes are still the same data
    # exactly two script elements: the data and the page's own code
    assert len(re.findall(r"<script\b", page)) == 2
    assert XSS_FUNCTION not in page and "<img" not in page


def test_page_is_self_contained_and_locked_down():
    page = flamegraph_html.render(flame_fixture.small())
    # nothing that loads anything: no src/href attributes, no CSS url(), no @import
    assert not re.search(r"\s(src|href|action|poster|srcset)\s*=", page, re.I)
    assert "url(" not in page and "@import" not in page
    assert not re.search(r"\b(fetch|XMLHttpRequest|WebSocket|EventSource|sendBeacon|importScripts)\b", page)
    assert "innerHTML" not in page and "insertAdjacentHTML" not in page and "document.write" not in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1)
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp


def test_placeholders_in_the_data_are_not_expanded():
    data = flame_fixture.small(function_name="@@JS@@ @@CSS@@ @@DATA@@ @@CSP@@")
    page = flamegraph_html.render(data)
    assert json.loads(_data_element(page))["strings"] == data["strings"]
    assert page.count("window.memlyzeFlame") == 1


def test_non_finite_numbers_become_null():
    data = flame_fixture.small()
    data["timeline"]["heap_bytes"][3] = float("nan")
    data["meta"]["duration_s"] = float("inf")
    embedded = json.loads(_data_element(flamegraph_html.render(data)))
    assert embedded["timeline"]["heap_bytes"][3] is None
    assert embedded["meta"]["duration_s"] is None


def test_big_tree_page_size_is_bounded():
    data = flame_fixture.big(node_target=100_000)
    size = len(flamegraph_html.render(data).encode())
    # compact JSON: well under 100 bytes per frame
    assert size < 100 * 100_000, size


def test_command_errors_are_one_line(tmp_path):
    capture = tmp_path / "app.mlyze"
    capture.write_bytes(b"")
    assert_one_line_error(memlyze("flamegraph", tmp_path / "missing.mlyze", cwd=tmp_path))
    assert_one_line_error(memlyze("flamegraph", capture, cwd=tmp_path))           # empty
    (tmp_path / "memlyze-flamegraph-app.html").write_text("x")
    result = memlyze("flamegraph", capture, cwd=tmp_path)                          # output exists
    assert_one_line_error(result)
    assert "-f" in result.stderr
    assert_one_line_error(memlyze("flamegraph", "--leaks", "--temporary", capture, cwd=tmp_path))
    assert_one_line_error(memlyze("flamegraph", "--snapshot", "x", capture, cwd=tmp_path))
    assert_one_line_error(memlyze("flamegraph", "--snapshot", "0", capture, cwd=tmp_path))
    assert_one_line_error(memlyze("flamegraph", "-o", tmp_path, capture, cwd=tmp_path))


def test_command_is_listed():
    result = memlyze("--help", cwd=".")
    assert "flamegraph" in result.stdout
    result = memlyze("flamegraph", "--help", cwd=".")
    assert result.returncode == 0
    for option in ("--output", "--force", "--inverted", "--temporal", "--leaks", "--temporary",
                   "--temporary-threshold", "--snapshot", "--thread", "--split-threads",
                   "--include", "--exclude"):
        assert option in result.stdout, option


def test_every_installed_script_is_joined_into_the_page():
    """A script file installed but not listed in SCRIPTS would be silently
    missing from every page (a listed file that is not installed fails at
    render)."""
    installed = sorted(path.name for path in flamegraph_html.STATIC.glob("flamegraph_*.js"))
    assert installed == sorted(flamegraph_html.SCRIPTS)
