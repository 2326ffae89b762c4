"""Where the SDK's exposure batches go: the collector over HTTP, or a warehouse table directly."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from typing import Protocol

from assay.errors import AssayError
from assay.exposure.events import Exposure, exposure_table
from assay.spec.models import ExposureSource
from assay.warehouse.base import Warehouse


class Sink(Protocol):
    """Receives batches of exposures; raises on a failure worth retrying."""

    def send(self, batch_id: str, events: list[Exposure]) -> None:
        """Deliver one batch durably (the same ``batch_id`` on every retry)."""
        ...


class SinkRejected(AssayError):
    """The sink refused a batch for good (retrying will not help); carries the reason."""


class ListSink:
    """Keeps batches in memory (for tests and notebooks)."""

    def __init__(self) -> None:
        self.batches: dict[str, list[Exposure]] = {}
        self._lock = threading.Lock()

    def send(self, batch_id: str, events: list[Exposure]) -> None:
        with self._lock:
            self.batches[batch_id] = list(events)

    @property
    def events(self) -> list[Exposure]:
        """Every event received, in batch order."""
        with self._lock:
            return [e for batch in self.batches.values() for e in batch]


class HttpSink:
    """POSTs batches to an ``assay collect`` service (``{url}/v1/exposures``).

    The collector answers only once the batch is durable, and recognises a retried
    ``batch_id``, so retrying after a timeout never double counts.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.endpoint = url.rstrip("/") + "/v1/exposures"
        self.timeout = timeout

    def send(self, batch_id: str, events: list[Exposure]) -> None:
        body = json.dumps({"batch_id": batch_id,
                           "events": [e.to_json() for e in events]}).encode("utf-8")
        request = urllib.request.Request(self.endpoint, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as err:
            if 400 <= err.code < 500:
                raise SinkRejected(f"collector refused batch {batch_id}: "
                                   f"{err.read().decode('utf-8', 'replace')[:500]}") from err
            raise


class WarehouseSink:
    """Appends batches to the project's exposure table (columns follow its mapping).

    Without a collector there is no batch ledger: a batch that fails half-way may be retried
    and appear twice; analyses count distinct units, and the collector is the exactly-once path.
    """

    def __init__(self, warehouse: Warehouse, *, columns: ExposureSource | None = None) -> None:
        self.warehouse = warehouse
        self.columns = columns or ExposureSource()
        if self.columns.table is None:
            raise AssayError("the project's exposures are a SQL query; a sink needs a table")
        self._lock = threading.Lock()

    def send(self, batch_id: str, events: list[Exposure]) -> None:
        with self._lock:
            self.warehouse.write_table(self.columns.table or "exposures",
                                       exposure_table(events, self.columns))


def new_batch_id() -> str:
    """A fresh batch id (random UUID, hex)."""
    return uuid.uuid4().hex
