"""Fixtures: the shop project on DuckDB, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.analysis.shop import Shop, build_shop, write_project


@pytest.fixture(scope="session")
def shop() -> Shop:
    """The raw shop tables."""
    return build_shop()


@pytest.fixture(scope="session")
def shop_project(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder with the shop data in DuckDB."""
    return write_project(tmp_path_factory.mktemp("shop"), shop)
