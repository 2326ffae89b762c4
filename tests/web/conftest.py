"""Fixtures: the demo store, ``assay serve`` on a free loopback port, and a Chromium page.

Screenshots are kept under the session's temp dir (``screenshots/``; its path is printed in the
test report) as the suite's artifacts.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.web import demo_store
from tests.web.browser import Guard, launch, playwright_module

playwright_module()

_START_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def web_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project with every experiment analysed and stored."""
    return demo_store.build(tmp_path_factory.mktemp("web_demo"))


@dataclass
class Server:
    """A running ``assay serve``."""

    url: str
    process: subprocess.Popen[str]


def start_server(project: Path, *extra: str) -> Server:
    """Start ``assay serve --port 0`` and read the URL it prints (within a deadline)."""
    command = [str(Path(sys.executable).with_name("assay")), "serve", "--project", str(project),
               "--port", "0", *extra]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], _START_TIMEOUT)
    line = process.stdout.readline() if ready else ""  # the URL, printed once bound
    if "http://127.0.0.1:" not in line:
        process.kill()
        rest = process.stdout.read()
        process.stdout.close()
        pytest.fail(f"assay serve did not start within {_START_TIMEOUT:.0f} s: {line}{rest}")
    url = line.split(" at ", 1)[1].split()[0].rstrip("/")
    return Server(url, process)


def stop_server(server: Server) -> None:
    """SIGINT (what Ctrl-C sends), then wait; kill if it hangs."""
    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    if server.process.stdout is not None:
        server.process.stdout.close()


@pytest.fixture(scope="module")
def server(web_project: Path) -> Iterator[Server]:
    """``assay serve`` over the demo store (writes allowed)."""
    running = start_server(web_project)
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots are kept: ``$ASSAY_SCREENSHOTS`` if set, else the session's temp dir."""
    chosen = os.environ.get("ASSAY_SCREENSHOTS")
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        return Path(chosen)
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def guard() -> Guard:
    """The page's problems (checked after each test)."""
    return Guard()


@pytest.fixture
def page(browser: Any, guard: Guard) -> Iterator[Any]:
    """A fresh browser context and page; the test fails on any console error or failed request."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(60_000)  # the machine is shared: a slow page is not a failure
    guard.watch(tab)
    yield tab
    context.close()
    guard.check()
