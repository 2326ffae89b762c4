"""Fixtures: a demo warehouse with no stored analyses, copied fresh for each test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assay.demo import build_demo

#: Large enough that the demo's SRM fires (pricing_banner_srm) and checkout's effect is found.
USERS = 20_000


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project, built once per session (per xdist worker), never analysed."""
    root = tmp_path_factory.mktemp("store_demo") / "demo"
    build_demo(root, users=USERS)
    return root


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo project that a test may change."""
    return Path(shutil.copytree(demo_template, tmp_path / "demo"))
