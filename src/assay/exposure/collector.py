"""``assay collect``: an HTTP collector of exposures (and metric events) for the warehouse.

Endpoints (JSON):

* ``POST /v1/exposures`` ``{"batch_id": "...", "events": [{"experiment_id", "variant",
  "unit_id", "timestamp"}]}``: validates every event, journals the batch (fsync) and only then
  answers ``{"batch_id", "accepted", "rejected": [{"index", "code", "reason"}], "duplicate"}``.
  A batch id seen before (within the dedup window, 7 days by default, across restarts) is
  answered from the journal and not counted again.
* ``POST /v1/events``: the same for metric events ``{"unit_id", "timestamp", "event", "value"}``.
* ``POST /v1/<stream>`` for every stream added with :meth:`Collector.add_stream`.
* ``GET /v1/stats``: counters (accepted, rejected by code, refused requests by reason,
  duplicates, loaded, pending, dead letters, the loader's state).
* ``GET /healthz``: ``ok``, or ``degraded`` with the loader's last error.

A request is refused whole (and counted) when it is over :attr:`Limits.max_body_bytes` (413),
not JSON (415 for another content type, 400 for a body that does not parse or nests too
deeply), or carries more than :attr:`Limits.max_events` events (413). A batch whose journal
write fails is answered 503 and *not* acknowledged: the client retries it.

A background loader moves journaled batches to the warehouse in transactions with a ledger
(:mod:`assay.exposure.loader`), so every acknowledged event lands exactly once (or, refused by
the warehouse, in the dead-letter table with the reason), even if the collector is killed and
restarted at any moment.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from assay.errors import AssayError
from assay.exposure.journal import (
    DEDUP_WINDOW,
    SEGMENT_BYTES,
    Journal,
    JournalWriteError,
    received_at,
)
from assay.exposure.loader import Loader
from assay.exposure.streams import Stream, event_stream, exposure_stream
from assay.exposure.validation import Rejection, variant_names
from assay.spec.models import ExperimentSpec, ExposureSource
from assay.warehouse.base import Warehouse

MAX_EVENTS_PER_BATCH = 50_000
MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one request may carry.

    Attributes:
        max_body_bytes: Largest request body (larger: 413).
        max_events: Most events in one batch (more: 413).
    """

    max_body_bytes: int = MAX_BODY_BYTES
    max_events: int = MAX_EVENTS_PER_BATCH


class Collector:
    """The collector's state: the streams it accepts, the journal and the loader.

    Args:
        experiments: Experiment id -> spec (exposures are validated against their variants).
        open_warehouse: Opens the warehouse (the loader calls it, again after a failure).
        data_dir: The journal's folder.
        columns: The project's exposure table and column names.
        events_table: Table of metric events.
        limits: Request limits.
        retry_max: Longest back-off between the loader's attempts, in seconds.
        segment_bytes: Journal segment size before rotation.
        dedup_window: How long a batch id is remembered after its batch was received (a
            retry within it, across restarts, is a duplicate; after it, a new batch).

    Raises:
        JournalError: ``data_dir`` cannot be created or written.
        AssayError: The project's exposures are a SQL query (the collector needs a table).
    """

    def __init__(self, experiments: Mapping[str, ExperimentSpec],
                 open_warehouse: Callable[[], Warehouse], data_dir: str | Path, *,
                 columns: ExposureSource | None = None, events_table: str = "assay_events",
                 limits: Limits | None = None, retry_max: float = 30.0,
                 segment_bytes: int = SEGMENT_BYTES,
                 dedup_window: dt.timedelta = DEDUP_WINDOW) -> None:
        columns = columns or ExposureSource()
        if columns.table is None:
            raise AssayError("the project's exposures are a SQL query; the collector needs a "
                             "table (set `exposures.table` in assay_project.yml)")
        self.experiments = dict(experiments)
        self.limits = limits or Limits()
        self.streams: dict[str, Stream] = {}
        self.add_stream(exposure_stream(variant_names(self.experiments), columns))
        self.add_stream(event_stream(events_table))
        self.journal = Journal(data_dir, segment_bytes=segment_bytes, dedup_window=dedup_window)
        self.loader = Loader(open_warehouse, self.streams, self.journal, retry_max=retry_max)
        self._lock = threading.Lock()
        self._batches: dict[str, dict[str, Any]] = {}
        self._received: dict[str, dt.datetime] = {}  # in the order received: oldest first
        self._in_flight: dict[str, threading.Event] = {}
        self.counts: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self._last_write_failed = False
        for entry in self.journal.entries():
            if entry.summary["batch_id"] not in self._batches:
                self._remember(entry.summary)

    def add_stream(self, stream: Stream) -> None:
        """Accept and load another kind of record (before :meth:`start`); see
        :mod:`assay.exposure.streams` for the contract."""
        self.streams[stream.name] = stream

    def start(self) -> None:
        """Start loading journaled batches into the warehouse."""
        self.loader.start(self.journal.entries())

    def stop(self) -> None:
        """Finish the current load and close the journal."""
        self.loader.stop()
        self.journal.close()

    def _remember(self, summary: dict[str, Any]) -> None:
        self._batches[summary["batch_id"]] = {"accepted": summary["accepted"],
                                             "rejected": summary["rejected"]}
        self._received[summary["batch_id"]] = received_at(summary) or dt.datetime.now(dt.UTC)
        self.counts[f"{summary['stream']}_accepted"] += summary["accepted"]
        self.counts["batches"] += 1
        self.rejected.update(r["code"] for r in summary["rejected"])
        self._forget_expired()

    def _forget_expired(self) -> None:
        """Drop batch ids received longer than the journal's dedup window ago (the oldest
        first; ids are remembered in the order their batches were received)."""
        horizon = dt.datetime.now(dt.UTC) - self.journal.dedup_window
        while self._received:
            batch_id, moment = next(iter(self._received.items()))
            if moment >= horizon:
                return
            del self._received[batch_id]
            self._batches.pop(batch_id, None)

    def refuse(self, reason: str, status: int, message: str) -> tuple[int, dict[str, Any]]:
        """Refuse a whole request, counted in ``/v1/stats`` under ``refused_requests``."""
        with self._lock:
            self.refused[reason] += 1
        return status, {"error": message, "code": reason}

    def receive(self, stream: str, body: Any) -> tuple[int, dict[str, Any]]:
        """Validate, journal and acknowledge one batch; ``(http_status, response)``."""
        if stream not in self.streams:
            return self.refuse("unknown_stream", 404, f"no stream {stream!r}")
        if not isinstance(body, Mapping):
            return self.refuse("malformed_batch", 400,
                               "the body is a JSON object {batch_id, events}")
        batch_id, events = body.get("batch_id"), body.get("events")
        if not isinstance(batch_id, str) or not 1 <= len(batch_id) <= 200 \
                or not batch_id.isprintable():
            return self.refuse("malformed_batch", 400, "`batch_id` (a string of 1 to 200 "
                               "printable characters) is required")
        if not isinstance(events, list):
            return self.refuse("malformed_batch", 400, "`events` must be a list")
        if len(events) > self.limits.max_events:
            return self.refuse("too_many_events", 413,
                               f"at most {self.limits.max_events} events per batch")
        rows, rejections = self._validate(self.streams[stream], events)
        return self._journal(stream, batch_id, rows, rejections)

    def _journal(self, stream: str, batch_id: str, rows: list[dict[str, Any]],
                 rejections: list[Rejection]) -> tuple[int, dict[str, Any]]:
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
            return self.refuse("concurrent_retry_failed", 503,
                               "a concurrent request with this batch id failed; retry")
        try:  # durable before we answer
            summary, position = self.journal.append_batch(
                stream, rows, batch_id=batch_id, rejected=[r.to_json() for r in rejections])
            with self._lock:
                self._remember(summary)
                self._last_write_failed = False
        except JournalWriteError as err:
            with self._lock:
                self._last_write_failed = True
            return self.refuse("journal_write_failed", 503,
                               f"{err}; the batch was not accepted, retry it")
        finally:
            with self._lock:
                self._in_flight.pop(batch_id).set()
        self.loader.submit(summary, position)
        return 200, {"batch_id": batch_id, "duplicate": False, "accepted": len(rows),
                     "rejected": summary["rejected"]}

    @staticmethod
    def _validate(stream: Stream, events: list[Any]
                  ) -> tuple[list[dict[str, Any]], list[Rejection]]:
        rows, rejections = [], []
        for i, event in enumerate(events):
            row, rejection = stream.check(i, event)
            if rejection is not None:
                rejections.append(rejection)
            elif row is not None:
                rows.append(row)
        return rows, rejections

    def stats(self) -> dict[str, Any]:
        """Counters for ``GET /v1/stats``."""
        with self._lock:
            counts = {"batches": self.counts["batches"],
                      "duplicate_batches": self.counts["duplicate_batches"],
                      "exposures_accepted": self.counts["exposures_accepted"],
                      "events_accepted": self.counts["events_accepted"],
                      "rejected": dict(self.rejected),
                      "refused_requests": dict(self.refused)}
        return counts | {"loaded_events": self.loader.loaded_events,
                         "pending_events": self.loader.pending_events,
                         "dead_letter_events": self.loader.dead_letter_events,
                         "load_errors": list(self.loader.errors)[-5:],
                         "loader": self.loader.status(),
                         "journal_bytes": self.journal.disk_bytes(),
                         "damaged_journal_records": self.journal.damaged_records}

    def health(self) -> dict[str, Any]:
        """``GET /healthz``: ``ok`` while journaling and loading work, else ``degraded``."""
        loader = self.loader.status()
        with self._lock:
            journal_ok = not self._last_write_failed
        ok = journal_ok and loader["state"] in ("starting", "running")
        return {"status": "ok" if ok else "degraded", "journal_writable": journal_ok,
                "loader": loader}


def create_app(collector: Collector) -> FastAPI:
    """The FastAPI application around a :class:`Collector` (started and stopped with the app)."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        collector.start()
        yield
        collector.stop()

    app = FastAPI(title="assay collector", lifespan=lifespan)

    @app.post("/v1/{stream}")
    async def receive(stream: str, request: Request) -> JSONResponse:
        refusal = _refuse_before_reading(collector, request)
        if refusal is None:
            raw = await _read_body(request, collector.limits.max_body_bytes)
            if raw is None:
                refusal = _too_large(collector)
            else:
                refusal = await run_in_threadpool(_receive_raw, collector, stream, raw)
        status, payload = refusal
        headers = {"Retry-After": "1"} if status == 503 else None
        return JSONResponse(payload, status_code=status, headers=headers)

    @app.get("/v1/stats")
    def stats() -> dict[str, Any]:
        return collector.stats()

    @app.get("/healthz")
    def health() -> dict[str, Any]:
        return collector.health()

    return app


def _refuse_before_reading(collector: Collector, request: Request
                           ) -> tuple[int, dict[str, Any]] | None:
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        return collector.refuse("unsupported_content_type", 415,
                                f"the body must be JSON (Content-Type: application/json), "
                                f"not {kind[:80]!r}")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > collector.limits.max_body_bytes:
        return _too_large(collector)
    return None


def _too_large(collector: Collector) -> tuple[int, dict[str, Any]]:
    return collector.refuse("body_too_large", 413, f"the body is over "
                            f"{collector.limits.max_body_bytes} bytes; send smaller batches")


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it passes ``limit`` bytes (never buffered beyond it)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _receive_raw(collector: Collector, stream: str, raw: bytes) -> tuple[int, dict[str, Any]]:
    try:
        body = json.loads(raw)
    except RecursionError:
        return collector.refuse("too_deep", 400, "the JSON body nests too deeply")
    except ValueError as err:
        return collector.refuse("not_json", 400,
                                f"the body is not valid JSON: {str(err)[:200]}")
    return collector.receive(stream, body)


def serve(collector: Collector, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Run the collector with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(collector), host=host, port=port, log_level="warning",
                access_log=False)
