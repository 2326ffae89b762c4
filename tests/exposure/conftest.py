"""Fixtures of the exposure tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from collector_proc import CollectorProcess, free_port, write_project


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    proc = CollectorProcess(write_project(tmp_path / "project"), free_port())
    yield proc
    if proc.process is not None:
        proc.kill()


@pytest.fixture(params=["duckdb", "postgres"])
def any_collector(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CollectorProcess]:
    """A collector process loading into DuckDB or into the real PostgreSQL server."""
    url = "duckdb:///wh.duckdb"
    if request.param == "postgres":
        request.getfixturevalue("postgres_wh")  # an empty database
        url = request.getfixturevalue("postgres_url")
    proc = CollectorProcess(write_project(tmp_path / "project", url), free_port(), url)
    yield proc
    if proc.process is not None:
        proc.kill()
