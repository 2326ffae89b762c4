"""``assay serve --read-only``: pages show, forms are gone, writes are refused."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.browser import screenshot
from tests.web.conftest import Server, start_server, stop_server

# One Chromium and one demo store: every browser test runs on the same xdist worker.
pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture(scope="module")
def read_only(web_project: Path) -> Iterator[Server]:
    running = start_server(web_project, "--read-only")
    yield running
    stop_server(running)


def test_read_only_has_no_forms_and_refuses_writes(
    page: Any, read_only: Server, screenshots: Path
) -> None:
    page.goto(read_only.url + "/experiments/checkout_redesign")
    assert page.locator("form").count() == 0
    assert page.get_by_text("read-only").first.is_visible()
    screenshot(page, screenshots, "read_only")
    for path in ("decisions", "analyses"):
        request = urllib.request.Request(
            f"{read_only.url}/experiments/checkout_redesign/{path}", data=b"", method="POST")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=10)
        assert err.value.code == 403
