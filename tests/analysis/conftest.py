"""Fixtures: the shop project on DuckDB, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.analysis.oracle import unit_table
from tests.analysis.shop import Shop, build_shop, write_project

from assay.analysis import AnalysisResult, analyze


@pytest.fixture(scope="session")
def shop() -> Shop:
    """The raw shop tables."""
    return build_shop()


@pytest.fixture(scope="session")
def shop_project(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder with the shop data in DuckDB."""
    return write_project(tmp_path_factory.mktemp("shop"), shop)


@pytest.fixture(scope="session")
def result(shop_project: Path) -> AnalysisResult:
    """The shop experiment analysed on DuckDB."""
    return analyze(shop_project, "exp")


@pytest.fixture(scope="session")
def units(shop: Shop) -> pd.DataFrame:
    """The independent pandas recomputation of every per-unit variable."""
    return unit_table(shop)
