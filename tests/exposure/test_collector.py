"""The collector, as a real `assay collect` process on 127.0.0.1: validation, idempotency,
durability under SIGKILL."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import httpx
import pytest
from collector_proc import CollectorProcess

from assay.assign.hashing import bucket

# each test starts `assay collect` processes (a few seconds each)
pytestmark = pytest.mark.slow

T0 = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)


def _event(unit: str, seconds: int = 0, **over: Any) -> dict[str, Any]:
    variant = "control" if bucket("checkout_v2", unit) < 5000 else "treatment"
    event = {"experiment_id": "checkout_v2", "variant": variant, "unit_id": unit,
             "timestamp": (T0 + dt.timedelta(seconds=seconds)).isoformat()}
    return event | over


def test_validation_rejections_and_retry(collector: CollectorProcess) -> None:
    collector.start()
    batch = {"batch_id": "b-1", "events": [
        _event("u1"),
        _event("u2", experiment_id="nope"),
        _event("u3", variant="treatmnt"),
        _event("", seconds=3),
        _event("u5", timestamp="yesterday"),
        "not an object",
        _event("u7", timestamp="2026-11-22T09:00:00+02:00"),
    ]}
    first = httpx.post(collector.url + "/v1/exposures", json=batch, timeout=10).json()
    assert first["accepted"] == 2 and first["duplicate"] is False
    assert [(r["index"], r["code"]) for r in first["rejected"]] == [
        (1, "unknown_experiment"), (2, "unknown_variant"), (3, "missing_unit_id"),
        (4, "malformed_timestamp"), (5, "not_an_object")]
    assert "variants: control, treatment" in first["rejected"][1]["reason"]
    again = httpx.post(collector.url + "/v1/exposures", json=batch, timeout=10).json()
    assert again["duplicate"] is True and again["accepted"] == 2
    stats = collector.wait_loaded(2)
    assert stats["duplicate_batches"] == 1
    assert stats["rejected"] == {"unknown_experiment": 1, "unknown_variant": 1,
                                 "missing_unit_id": 1, "malformed_timestamp": 1,
                                 "not_an_object": 1}
    bad = httpx.post(collector.url + "/v1/exposures", json={"events": []}, timeout=10)
    assert bad.status_code == 400 and "batch_id" in bad.json()["error"]
    collector.stop()
    rows = collector.rows()
    assert [r[2] for r in rows] == ["u1", "u7"]
    assert rows[1][3] == dt.datetime(2026, 11, 22, 7, 0)  # +02:00 stored as UTC


def test_counters_survive_a_restart(collector: CollectorProcess) -> None:
    collector.start()
    httpx.post(collector.url + "/v1/exposures", timeout=10, json={
        "batch_id": "x", "events": [_event("a"), _event("b", variant="zzz")]})
    collector.wait_loaded(1)
    collector.kill()
    collector.start()
    stats = collector.wait_loaded(1)
    assert stats["rejected"] == {"unknown_variant": 1} and stats["batches"] == 1
    collector.stop()


def _sender(url: str, batches: list[tuple[str, list[dict[str, Any]]]],
            acked: dict[str, int], stop: threading.Event) -> None:
    with httpx.Client(timeout=10) as client:
        for batch_id, events in batches:
            if stop.is_set():
                return
            try:
                reply = client.post(url + "/v1/exposures",
                                    json={"batch_id": batch_id, "events": events})
            except httpx.TransportError:
                return  # the collector died: this batch is unacknowledged
            if reply.status_code == 200:
                acked[batch_id] = reply.json()["accepted"]


def test_sigkill_mid_load_loses_nothing_and_counts_nothing_twice(
        any_collector: CollectorProcess) -> None:
    collector = any_collector
    n_batches, size = 120, 250
    batches = [(uuid.uuid4().hex, [_event(f"b{b}-u{i}", seconds=i) for i in range(size)])
               for b in range(n_batches)]
    collector.start()
    acked: dict[str, int] = {}
    stop = threading.Event()
    sender = threading.Thread(target=_sender, args=(collector.url, batches, acked, stop))
    sender.start()
    before_kill: dict[str, Any] = {}
    for _ in range(3000):  # bounded: kill once loads have begun and more are pending
        before_kill = httpx.get(collector.url + "/v1/stats", timeout=5).json()
        if before_kill["loaded_events"] > 0 and before_kill["pending_events"] > 0:
            break
        threading.Event().wait(0.005)
    collector.kill()
    print("at SIGKILL:", {k: before_kill[k] for k in ("exposures_accepted", "loaded_events",
                                                      "pending_events")})
    stop.set()
    sender.join(timeout=30)
    assert 0 < len(acked) < n_batches
    assert before_kill["loaded_events"] > 0 and before_kill["pending_events"] > 0
    acked_before_kill = dict(acked)
    collector.start()
    # the client retries everything it has no acknowledgement for, and (by mistake) resends
    # a few acknowledged batches too: neither may be counted twice.
    resend = [b for b in batches if b[0] not in acked_before_kill] + batches[:5]
    _sender(collector.url, resend, acked, threading.Event())
    assert len(acked) == n_batches
    collector.wait_loaded(n_batches * size)
    collector.stop()
    units = [r[2] for r in collector.rows()]
    assert len(units) == n_batches * size
    assert len(set(units)) == len(units)
    assert set(units) == {e["unit_id"] for _, events in batches for e in events}
