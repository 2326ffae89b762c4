"""Playwright driving Debian's Chromium, and a guard that fails a page on any browser error.

Playwright's own browser download cannot be reached here, so the system ``chromium`` is
launched (``--no-sandbox``: the tests run as root; the other flags keep Chromium from calling
out to Google's hosts, which this machine's closed network refuses).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.engines import require_module, unavailable

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def launch(playwright: Any) -> Any:
    """A headless Chromium, or a skip (a failure under CI) naming what is missing."""
    executable = shutil.which("chromium")
    if executable is None:
        unavailable("Debian's chromium is not installed: apt-get install -y chromium "
                    "(.ci/run installs it)")
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


def playwright_module() -> None:
    """Playwright for Python, or a skip naming the install."""
    require_module("playwright.sync_api", "dev")


@dataclass
class Guard:
    """Everything a page did wrong: console errors, uncaught errors, failed requests, dialogs."""

    problems: list[str] = field(default_factory=list)
    allowed_status: set[int] = field(default_factory=set)

    def watch(self, page: Any) -> None:
        """Listen on ``page``."""
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(
            f"request failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and r.status not in self.allowed_status
                and self.problems.append(f"HTTP {r.status}: {r.url}"))
        page.on("dialog", lambda d: (self.problems.append(f"dialog opened: {d.message}"),
                                     d.dismiss()))

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        # Chromium logs every 4xx/5xx response; an allowed status (a 404 page a test opens
        # on purpose) is not a problem, and any other is already reported by `response`.
        if "the server responded with a status of" in message.text and any(
            f"status of {code} " in message.text for code in self.allowed_status
        ):
            return
        self.problems.append(f"console error: {message.text}")

    def check(self) -> None:
        """Fail with every problem seen."""
        assert not self.problems, "the browser saw problems:\n" + "\n".join(self.problems)


def screenshot(page: Any, folder: Path, name: str) -> Path:
    """Save a full-page screenshot and check it is not blank (many distinct colours, ink)."""
    from PIL import Image

    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        width, height = rgb.size
        dark = sum(count for count, (r, g, b) in colours if r + g + b < 300)
    assert len(colours) > 20, f"{path} looks blank: {len(colours)} colours"
    assert dark > 0.001 * width * height, f"{path} has almost no text or lines"
    return path
