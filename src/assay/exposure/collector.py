"""``assay collect``: an HTTP collector of exposures (and metric events) for the warehouse.

Endpoints (JSON):

* ``POST /v1/exposures`` ``{"batch_id": "...", "events": [{"experiment_id", "variant",
  "unit_id", "timestamp"}]}``: validates every event, journals the batch (fsync) and only then
  answers ``{"batch_id", "accepted", "rejected": [{"index", "code", "reason"}], "duplicate"}``.
  A batch id seen before is answered from the journal and not counted again.
* ``POST /v1/events``: the same for metric events ``{"unit_id", "timestamp", "event", "value"}``.
* ``GET /v1/stats``: counters (accepted, rejected by code, duplicates, loaded, pending).
* ``GET /healthz``.

A background loader moves journaled batches to the warehouse exposure table in transactions
with a ledger (:mod:`assay.exposure.loader`), so every acknowledged event lands exactly once,
even if the collector is killed and restarted at any moment.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from assay.exposure.journal import Journal
from assay.exposure.loader import Loader
from assay.exposure.validation import (
    Rejection,
    check_exposure,
    check_metric_event,
    variant_names,
)
from assay.spec.models import ExperimentSpec, ExposureSource
from assay.warehouse.base import Warehouse

MAX_EVENTS_PER_BATCH = 50_000


class Collector:
    """The collector's state: experiments to validate against, the journal and the loader."""

    def __init__(self, experiments: Mapping[str, ExperimentSpec],
                 open_warehouse: Callable[[], Warehouse], data_dir: str | Path, *,
                 columns: ExposureSource | None = None,
                 events_table: str = "assay_events") -> None:
        self.experiments = dict(experiments)
        self.variants = variant_names(self.experiments)
        self.journal = Journal(Path(data_dir) / "journal.jsonl")
        self.loader = Loader(open_warehouse, columns or ExposureSource(),
                             events_table=events_table)
        self._lock = threading.Lock()
        self._batches: dict[str, dict[str, Any]] = {}
        self._in_flight: dict[str, threading.Event] = {}
        self.counts: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        for record in self.journal.records:
            self._remember(record)

    def start(self) -> None:
        """Start loading journaled batches into the warehouse."""
        self.loader.start(list(self.journal.records))

    def stop(self) -> None:
        """Finish the current load and close the journal."""
        self.loader.stop()
        self.journal.close()

    def _remember(self, record: dict[str, Any]) -> None:
        self._batches[record["batch_id"]] = {"accepted": len(record["rows"]),
                                            "rejected": record["rejected"]}
        self.counts[f"{record['stream']}_accepted"] += len(record["rows"])
        self.counts["batches"] += 1
        self.rejected.update(r["code"] for r in record["rejected"])

    def receive(self, stream: str, body: Any) -> tuple[int, dict[str, Any]]:
        """Validate, journal and acknowledge one batch; ``(http_status, response)``."""
        if not isinstance(body, Mapping):
            return 400, {"error": "the body is a JSON object {batch_id, events}"}
        batch_id, events = body.get("batch_id"), body.get("events")
        if not isinstance(batch_id, str) or not 1 <= len(batch_id) <= 200:
            return 400, {"error": "`batch_id` (a string of 1 to 200 characters) is required"}
        if not isinstance(events, list):
            return 400, {"error": "`events` must be a list"}
        if len(events) > MAX_EVENTS_PER_BATCH:
            return 413, {"error": f"at most {MAX_EVENTS_PER_BATCH} events per batch"}
        rows, rejections = self._validate(stream, events)
        with self._lock:
            known = self._batches.get(batch_id)
            waiting = self._in_flight.get(batch_id)
            if known is None and waiting is None:
                self._in_flight[batch_id] = threading.Event()
        if waiting is not None:  # the same batch is being journaled by another request
            waiting.wait(60)
            with self._lock:
                known = self._batches.get(batch_id)
        if known is not None:
            with self._lock:
                self.counts["duplicate_batches"] += 1
            return 200, {"batch_id": batch_id, "duplicate": True, **known}
        if waiting is not None:
            return 503, {"error": "a concurrent request with this batch id failed; retry"}
        record = {"batch_id": batch_id, "stream": stream, "rows": rows,
                  "rejected": [r.to_json() for r in rejections],
                  "received_at": dt.datetime.now(dt.UTC).isoformat()}
        try:
            self.journal.append(record)  # durable before we answer
            with self._lock:
                self._remember(record)
        finally:
            with self._lock:
                self._in_flight.pop(batch_id).set()
        self.loader.submit(record)
        return 200, {"batch_id": batch_id, "duplicate": False, "accepted": len(rows),
                     "rejected": record["rejected"]}

    def _validate(self, stream: str, events: list[Any]
                  ) -> tuple[list[dict[str, Any]], list[Rejection]]:
        rows, rejections = [], []
        for i, event in enumerate(events):
            row, rejection = check_exposure(i, event, self.variants) \
                if stream == "exposures" else check_metric_event(i, event)
            if rejection is not None:
                rejections.append(rejection)
            elif row is not None:
                rows.append(row)
        return rows, rejections

    def stats(self) -> dict[str, Any]:
        """Counters for ``GET /v1/stats``."""
        with self._lock:
            return {"batches": self.counts["batches"],
                    "duplicate_batches": self.counts["duplicate_batches"],
                    "exposures_accepted": self.counts["exposures_accepted"],
                    "events_accepted": self.counts["events_accepted"],
                    "rejected": dict(self.rejected),
                    "loaded_events": self.loader.loaded_events,
                    "pending_events": self.loader.pending_events,
                    "load_errors": self.loader.errors[-5:]}


def create_app(collector: Collector) -> FastAPI:
    """The FastAPI application around a :class:`Collector` (started and stopped with the app)."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        collector.start()
        yield
        collector.stop()

    app = FastAPI(title="assay collector", lifespan=lifespan)

    async def handle(stream: str, request: Request) -> JSONResponse:
        raw = await request.body()
        status, payload = await run_in_threadpool(_receive_raw, collector, stream, raw)
        return JSONResponse(payload, status_code=status)

    @app.post("/v1/exposures")
    async def exposures(request: Request) -> JSONResponse:
        return await handle("exposures", request)

    @app.post("/v1/events")
    async def events(request: Request) -> JSONResponse:
        return await handle("events", request)

    @app.get("/v1/stats")
    def stats() -> dict[str, Any]:
        return collector.stats()

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _receive_raw(collector: Collector, stream: str, raw: bytes) -> tuple[int, dict[str, Any]]:
    try:
        body = json.loads(raw)
    except ValueError as err:
        return 400, {"error": f"the body is not valid JSON: {err}"}
    return collector.receive(stream, body)


def serve(collector: Collector, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Run the collector with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(collector), host=host, port=port, log_level="warning",
                access_log=False)
