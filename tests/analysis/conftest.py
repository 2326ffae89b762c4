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
    """A project folder with the shop data in DuckDB (the experiment segmented by platform)."""
    return write_project(tmp_path_factory.mktemp("shop"), shop)


@pytest.fixture(scope="session")
def plain_project(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same project without segments: the compiler reduces most metrics per source."""
    return write_project(tmp_path_factory.mktemp("shop_plain"), shop, segments=False)


@pytest.fixture(scope="session")
def segmented_result(shop_project: Path) -> AnalysisResult:
    """The shop experiment analysed on DuckDB, broken down by platform."""
    return analyze(shop_project, "exp")


@pytest.fixture(scope="session", params=["segmented", "plain"])
def result(request: pytest.FixtureRequest) -> AnalysisResult:
    """The shop experiment analysed on DuckDB, with and without segments.

    The two compile to different query shapes (``per_unit`` for every metric, or per-source
    sums for most); every oracle test runs against both.
    """
    if request.param == "segmented":
        return request.getfixturevalue("segmented_result")
    return analyze(request.getfixturevalue("plain_project"), "exp")


@pytest.fixture(scope="session")
def units(shop: Shop) -> pd.DataFrame:
    """The independent pandas recomputation of every per-unit variable."""
    return unit_table(shop)
