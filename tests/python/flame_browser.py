"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for the
flame graph page tests. Never `playwright install`: it would download a browser.

`open_page(context, path)` loads a page and records every console message,
page error, dialog and network request, and refuses every request but the
document itself, so a test can assert that the page is self-contained."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = os.environ.get("MEMLYZE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output"


@contextlib.contextmanager
def browser_context(width: int = 1280, height: int = 900):
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)")
    profile = tempfile.mkdtemp(prefix="memlyze-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                viewport={"width": width, "height": height}, offline=True,
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class LoadedPage:
    page: object
    url: str
    console: list = field(default_factory=list)   # (type, text)
    errors: list = field(default_factory=list)    # uncaught exceptions
    dialogs: list = field(default_factory=list)   # alert/confirm/prompt messages
    requests: list = field(default_factory=list)  # every URL requested
    refused: list = field(default_factory=list)   # URLs the route handler aborted

    def problems(self) -> list:
        """Console errors and warnings, page errors, dialogs and any request
        other than the document itself."""
        out = [f"console {kind}: {text}" for kind, text in self.console if kind in ("error", "warning")]
        out += [f"page error: {error}" for error in self.errors]
        out += [f"dialog: {message}" for message in self.dialogs]
        out += [f"request: {url}" for url in self.requests if url != self.url]
        out += [f"refused: {url}" for url in self.refused]
        return out


def open_page(context, path, ready: str | None = "html[data-ready=true]") -> LoadedPage:
    """ready: the selector to wait for (None: the load event is enough, as
    for a page whose flame graphs are in iframes)."""
    url = Path(path).resolve().as_uri()
    page = context.new_page()
    loaded = LoadedPage(page=page, url=url)
    page.on("console", lambda message: loaded.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: loaded.errors.append(str(error)))

    def on_dialog(dialog):
        loaded.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda request: loaded.requests.append(request.url))

    def route(route_request):
        if route_request.request.url == url:
            route_request.continue_()
        else:
            loaded.refused.append(route_request.request.url)
            route_request.abort()

    page.route("**/*", route)
    page.goto(url)
    if ready:
        page.wait_for_selector(ready, timeout=15_000)
    return loaded


def frame_center(page, node: int) -> tuple[float, float]:
    rect = page.evaluate("(i) => window.memlyzeFlame.nodeRect(i)", node)
    assert rect is not None, f"node {node} is not drawn"
    return rect["x"] + rect["width"] / 2, rect["y"] + rect["height"] / 2


def screenshot(page, name: str) -> Path:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / name
    page.screenshot(path=str(path), full_page=True)
    return path
