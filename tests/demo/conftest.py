"""Fixtures: a small demo project built once per test session (per xdist worker)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from assay.demo import DemoInfo, build_demo

#: Small enough to build in about a second, large enough for share and anomaly checks.
SMALL_USERS = 6000


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoInfo:
    """The demo project at ``users=SMALL_USERS`` and the default seed."""
    return build_demo(tmp_path_factory.mktemp("demo"), users=SMALL_USERS)


@pytest.fixture
def con(demo: DemoInfo) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the demo warehouse."""
    connection = duckdb.connect(str(demo.warehouse), read_only=True)
    yield connection
    connection.close()
