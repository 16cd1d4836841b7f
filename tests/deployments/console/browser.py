"""Driving the console in Debian's Chromium (headless, through Playwright), with an axe-core check.

The browser is the system's (``apt-get install chromium``; ``.ci/run`` installs it), never one
Playwright downloads. Without it the browser tests are skipped, saying so. The console runs on a
loopback port in this process, under the same hardened uvicorn set-up as ``skladbridge console``.
"""

from __future__ import annotations

import contextvars
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.deployments.schedule.test_readme_prefect import _free_port

REPO = Path(__file__).resolve().parents[3]
#: where a run photographs the screens: a temporary folder, so a test run leaves the clone as it was;
#: ``SKLADBRIDGE_CONSOLE_SCREENSHOTS=docs/console`` refreshes the README's pictures
SCREENSHOTS = Path(
    os.environ.get("SKLADBRIDGE_CONSOLE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "skladbridge-console-screenshots"
)
#: the pictures the README and docs show
DOCS_SCREENSHOTS = REPO / "docs" / "console"
#: axe-core impacts a screen may not have
BLOCKING = ("serious", "critical")


def chromium_path() -> str:
    """Debian's Chromium, or skip the test saying how to get it."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.skip(
        "Chromium is not installed (apt-get install -y chromium chromium-driver): the console's browser tests need it"
    )


@contextmanager
def browser_page() -> Iterator[Any]:
    """A fresh headless Chromium page, 1280x860."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the Playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        # --no-sandbox: CI and these machines run as root, where Chromium's sandbox cannot start
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB")
            context.set_default_timeout(15_000)
            yield context.new_page()
        finally:
            browser.close()


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` (the console mounted at /console) on a free loopback port; yields the console's URL."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from deployments.service.http_server import server_config

    port = _free_port()
    server = uvicorn.Server(server_config(Starlette(routes=[Mount("/console", app=app)]), "127.0.0.1", port))
    # the settings of the test (a Prefect API URL) reach the server's thread
    thread = threading.Thread(target=contextvars.copy_context().run, args=(server.run,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/console"
    finally:
        server.should_exit = True
        thread.join(10)


def accessible(page: Any, screen: str) -> None:
    """No serious or critical axe-core violation on the page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v.get("impact") in BLOCKING
    ]
    assert not bad, f"{screen}: accessibility violations:\n" + "\n".join(bad)


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Any, base: str, user: str, password: str) -> Any:
    """Log in with the keyboard only: the fields are reached with Tab, the form sent with Enter."""
    page.goto(f"{base}/login")
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "user"
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    return page
