"""The collector app under a real uvicorn server in this process (127.0.0.1), loading into
DuckDB and a real PostgreSQL server; and the SDK's HttpSink talking to it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from collector_proc import Served

from assay.client import Client
from assay.exposure import ExposureLogger, HttpSink
from assay.exposure.collector import Collector
from assay.spec.models import ExperimentSpec
from assay.warehouse.base import Warehouse
from assay.warehouse.duckdb import DuckDBWarehouse

SPEC = ExperimentSpec(id="checkout_v2", variants=[
    {"name": "control", "weight": 1}, {"name": "treatment", "weight": 1}])


def _open(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[], Warehouse]:
    if kind == "duckdb":
        return lambda: DuckDBWarehouse(tmp_path / "wh.duckdb")
    from assay.warehouse.postgres import PostgresWarehouse

    url = request.getfixturevalue("postgres_url")
    request.getfixturevalue("postgres_wh")  # drops leftover schemas first
    return lambda: PostgresWarehouse(url)


@pytest.fixture(params=["duckdb", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Served, Any]]:
    opener = _open(request.param, tmp_path, request)
    collector = Collector({SPEC.id: SPEC}, opener, tmp_path / "journal")
    server = Served(collector)
    yield server, opener
    server.stop()


def _wait_loaded(url: str, expected: int) -> dict[str, Any]:
    stats: dict[str, Any] = {}
    for _ in range(400):
        stats = httpx.get(url + "/v1/stats", timeout=5).json()
        if stats["pending_events"] == 0 and stats["loaded_events"] >= expected:
            return stats
        time.sleep(0.05)
    raise AssertionError(stats)


def test_sdk_to_collector_to_warehouse(served: tuple[Served, Any]) -> None:
    server, opener = served
    logger = ExposureLogger(HttpSink(server.url), batch_size=100, flush_interval=0.05)
    with Client([SPEC], logger=logger) as client:
        expected = {f"user-{i}": client.variant("checkout_v2", f"user-{i}") for i in range(750)}
        for i in range(750):  # repeated exposures are not logged again
            client.variant("checkout_v2", f"user-{i}")
    assert logger.stats.sent == 750 and logger.stats.failed == 0
    httpx.post(server.url + "/v1/events", timeout=10, json={"batch_id": "m1", "events": [
        {"unit_id": "user-1", "timestamp": "2026-11-22T08:00:00Z", "event": "purchase",
         "value": 12.5},
        {"unit_id": "user-2", "timestamp": "2026-11-22T08:00:00Z", "event": "purchase",
         "value": "twelve"}]})
    stats = _wait_loaded(server.url, 751)
    assert stats["rejected"] == {"missing_field": 1}
    server.stop()
    warehouse = opener()
    try:
        rows = warehouse.execute('SELECT "unit_id", "variant", "timestamp" FROM "exposures"')
        events = warehouse.execute('SELECT "unit_id", "value" FROM "assay_events"')
    finally:
        warehouse.close()
    got = dict(zip(rows.column("unit_id").to_pylist(), rows.column("variant").to_pylist(),
                   strict=True))
    assert rows.num_rows == 750 and got == expected
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert all(abs((t - now).total_seconds()) < 120 for t in rows.column("timestamp").to_pylist())
    assert events.to_pylist() == [{"unit_id": "user-1", "value": 12.5}]


def test_retried_batch_is_loaded_once(served: tuple[Served, Any]) -> None:
    server, opener = served
    batch = {"batch_id": "same", "events": [{"experiment_id": "checkout_v2",
                                             "variant": "control", "unit_id": f"u{i}",
                                             "timestamp": "2026-11-22T08:00:00"}
                                            for i in range(10)]}
    replies = [httpx.post(server.url + "/v1/exposures", json=batch, timeout=10).json()
               for _ in range(3)]
    assert [r["duplicate"] for r in replies] == [False, True, True]
    _wait_loaded(server.url, 10)
    server.stop()
    warehouse = opener()
    try:
        count = warehouse.execute('SELECT COUNT(*) AS "n" FROM "exposures"').column(0)[0]
    finally:
        warehouse.close()
    assert count.as_py() == 10
