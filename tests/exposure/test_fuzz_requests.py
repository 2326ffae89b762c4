"""Fuzzing collector requests: arbitrary bytes, arbitrary JSON and valid batches with hostile
fields. Every request gets a 200 with per-event rejections or a counted 4xx: never an
exception (a 500), and an accepted event always survives the journal's framing.

Cases per run: ``ASSAY_FUZZ_EXAMPLES`` (default 150 per test)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.exposure.collector import Collector, Limits, _receive_raw
from assay.exposure.journal import frame, unframe
from assay.spec.models import ExperimentSpec
from assay.warehouse.duckdb import DuckDBWarehouse

EXAMPLES = int(os.environ.get("ASSAY_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
SPEC = ExperimentSpec(id="e", variants=[{"name": "a", "weight": 1}, {"name": "b", "weight": 1}])
ALLOWED = {200, 400, 404, 413}
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
                    st.sampled_from(["e", "a", "b", "2026-11-22T08:00:00Z", "0001-01-01",
                                     "9999-12-31T23:59:59", "\x00", "\ud800", "x" * 600]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=20)
event = st.fixed_dictionaries({}, optional={
    "experiment_id": st.one_of(st.just("e"), scalars), "variant": st.one_of(
        st.sampled_from(["a", "b"]), scalars), "unit_id": scalars,
    "timestamp": st.one_of(st.just("2026-11-22T08:00:00+01:00"), scalars),
    "event": scalars, "value": scalars})


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    collector = Collector({"e": SPEC}, lambda: DuckDBWarehouse(":memory:"), folder,
                          limits=Limits(max_body_bytes=1 << 20, max_events=50))
    yield collector
    collector.journal.close()


def _assert_answered(collector: Collector, stream: str, raw: bytes) -> dict[str, Any]:
    status, reply = _receive_raw(collector, stream, raw)
    assert status in ALLOWED, (status, reply)
    json.dumps(reply)  # the answer itself is JSON
    return reply


@FUZZ
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes(collector: Collector, raw: bytes) -> None:
    _assert_answered(collector, "exposures", raw)


@FUZZ
@given(body=json_values, stream=st.sampled_from(["exposures", "events", "nope"]))
def test_arbitrary_json(collector: Collector, body: Any, stream: str) -> None:
    _assert_answered(collector, stream, json.dumps(body).encode())


@FUZZ
@given(events=st.lists(event, max_size=60), stream=st.sampled_from(["exposures", "events"]),
       batch=st.integers(0, 10**9))
def test_batches_with_hostile_fields(collector: Collector, events: list[dict[str, Any]],
                                     stream: str, batch: int) -> None:
    raw = json.dumps({"batch_id": f"fuzz-{batch}", "events": events}).encode()
    reply = _assert_answered(collector, stream, raw)
    if "accepted" in reply and not reply["duplicate"]:
        assert reply["accepted"] + len(reply["rejected"]) == len(events)
    check = collector.streams[stream].check
    for i, item in enumerate(events):
        row, _ = check(i, item)
        if row is not None:  # what is accepted survives the journal and loads as Arrow
            assert unframe(frame({"batch_id": "x", "rows": [row]})) == {
                "batch_id": "x", "rows": [row]}
            collector.streams[stream].to_arrow([row])
