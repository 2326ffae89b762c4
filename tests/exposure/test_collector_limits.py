"""Request limits of the collector over real HTTP (uvicorn on 127.0.0.1): every refusal is a
4xx with a reason, counted in /v1/stats; never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from collector_proc import Served

from assay.exposure.collector import Collector, Limits
from assay.spec.models import ExperimentSpec
from assay.warehouse.duckdb import DuckDBWarehouse

SPEC = ExperimentSpec(id="e", variants=[{"name": "a", "weight": 1}, {"name": "b", "weight": 1}])
OK = {"experiment_id": "e", "variant": "a", "unit_id": "u", "timestamp": "2026-11-22T08:00:00Z"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    collector = Collector({"e": SPEC}, lambda: DuckDBWarehouse(tmp_path / "wh.duckdb"),
                          tmp_path / "journal", limits=Limits(max_body_bytes=64 * 1024,
                                                              max_events=100))
    served = Served(collector)
    yield served
    served.stop()


def _post(server: Served, body: bytes | str, path: str = "/v1/exposures",
          headers: dict[str, str] | None = None) -> httpx.Response:
    content = body.encode("utf-8") if isinstance(body, str) else body
    return httpx.post(server.url + path, content=content, headers=headers or JSON, timeout=30)


def _batch(events: list[Any], batch_id: str = "b") -> str:
    return json.dumps({"batch_id": batch_id, "events": events})


def test_whole_requests_refused_with_their_reason(server: Served) -> None:
    cases = [
        (_post(server, b"x" * (65 * 1024)), 413, "body_too_large"),
        (_post(server, _batch([{"unit_id": "u" * 70_000}])), 413, "body_too_large"),
        (_post(server, _batch([OK] * 101)), 413, "too_many_events"),
        (_post(server, _batch([OK]), headers={"Content-Type": "text/plain"}), 415,
         "unsupported_content_type"),
        (_post(server, "[" * 30_000 + "]" * 30_000), 400, "too_deep"),
        (_post(server, b'{"batch_id": "\xff"}'), 400, "not_json"),
        (_post(server, "{"), 400, "not_json"),
        (_post(server, "[]"), 400, "malformed_batch"),
        (_post(server, _batch([OK], batch_id="a\nb")), 400, "malformed_batch"),
        (_post(server, _batch([OK]), path="/v1/nothing"), 404, "unknown_stream"),
    ]
    for reply, status, code in cases:
        assert (reply.status_code, reply.json()["code"]) == (status, code), reply.text
    refused = httpx.get(server.url + "/v1/stats").json()["refused_requests"]
    assert refused == {"body_too_large": 2, "too_many_events": 1, "unsupported_content_type": 1,
                       "too_deep": 1, "not_json": 2, "malformed_batch": 2, "unknown_stream": 1}


@pytest.mark.parametrize(("field", "value", "code"), [
    ("unit_id", "u" * 513, "too_long"),
    ("unit_id", "a\x00b", "invalid_text"),
    ("unit_id", "\ud800", "invalid_text"),
    ("timestamp", "0001-01-01T00:00:00Z", "timestamp_out_of_range"),
    ("timestamp", "9999-12-31T23:59:59Z", "timestamp_out_of_range"),
    ("timestamp", "10000-01-01T00:00:00Z", "malformed_timestamp"),
    ("variant", "b" * 10_000, "unknown_variant"),
])
def test_exposures_the_sinks_cannot_store_are_rejected(server: Served, field: str,
                                                       value: str, code: str) -> None:
    reply = _post(server, _batch([OK | {field: value}, OK | {"unit_id": "v"}]))
    assert reply.status_code == 200
    body = reply.json()
    assert body["accepted"] == 1 and [r["code"] for r in body["rejected"]] == [code]
    assert len(body["rejected"][0]["reason"]) < 200  # a huge value is never echoed back


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400])
def test_metric_values_must_be_finite(server: Served, value: str) -> None:
    raw = ('{"batch_id": "m", "events": [{"unit_id": "u", "timestamp": '
           f'"2026-11-22T08:00:00Z", "event": "buy", "value": {value}}}]}}')
    reply = _post(server, raw, path="/v1/events")
    assert reply.status_code == 200, reply.text
    assert [r["code"] for r in reply.json()["rejected"]] == ["invalid_number"]


def test_health_reports_the_loader(server: Served) -> None:
    health = httpx.get(server.url + "/healthz").json()
    assert health["status"] == "ok" and health["loader"]["state"] in ("starting", "running")
