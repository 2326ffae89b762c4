"""Loads journaled batches into the warehouse, exactly once, in transactions with a ledger.

Each load is one transaction: the rows of a group of batches and, in a ledger table
(``assay_collector_batches``), those batches' ids. After a crash the loader reads the ledger and
loads only the journaled batches it does not list: a batch is in the warehouse zero times (not
yet loaded, will be) or once (its rows and its ledger row committed together).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlglot import exp

from assay.errors import AssayError, MissingTableError, WarehouseError
from assay.exposure.events import exposure_columns
from assay.spec.models import ExposureSource
from assay.warehouse.base import Warehouse

log = logging.getLogger("assay.collector")
LEDGER = "assay_collector_batches"
TRANSACTIONAL = ("duckdb", "postgres")


@dataclass(frozen=True)
class RowStream:
    """A further kind of journal record the loader writes to its own table.

    The built-in streams are ``exposures`` and ``events``; a room that journals other rows
    (``pipeline_runs``, say) names the table and how its journal rows become Arrow.

    Attributes:
        table: The warehouse table the stream's rows are appended to.
        to_arrow: Journal rows (plain JSON objects) -> the table's rows.
    """

    table: str
    to_arrow: Callable[[list[dict[str, Any]]], pa.Table]


class Loader:
    """Background loading of journal records into the warehouse.

    Args:
        open_warehouse: Opens the warehouse (called in the loader thread, which owns it).
        columns: The project's exposure table and column names.
        events_table: Table of metric events.
        max_rows: Rows per transaction (several batches are grouped up to this size).
        streams: Further record streams by name, each loaded into its own table in the same
            transaction as the ledger.
    """

    def __init__(self, open_warehouse: Callable[[], Warehouse], columns: ExposureSource,
                 *, events_table: str = "assay_events", max_rows: int = 20_000,
                 streams: Mapping[str, RowStream] | None = None) -> None:
        if columns.table is None:
            raise AssayError("the project's exposures are a SQL query; the collector needs a "
                             "table (set `exposures.table` in assay_project.yml)")
        self.open_warehouse = open_warehouse
        self.columns = columns
        self.events_table = events_table
        self.max_rows = max_rows
        self.streams = dict(streams or {})
        self.loaded_ids: set[str] = set()
        self.loaded_events = 0
        self.errors: list[str] = []
        self._pending: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="assay-loader", daemon=True)

    def start(self, journal_records: list[dict[str, Any]]) -> None:
        """Start loading: the journal's records not yet in the ledger, then new ones."""
        self._pending = [r for r in journal_records if r.get("rows")]
        self._thread.start()

    def submit(self, record: dict[str, Any]) -> None:
        """Queue a newly journaled record."""
        if not record.get("rows"):
            return
        with self._cond:
            self._pending.append(record)
            self._cond.notify()

    @property
    def pending_events(self) -> int:
        """Journaled rows not yet committed to the warehouse."""
        with self._cond:
            return sum(len(r["rows"]) for r in self._pending
                       if r["batch_id"] not in self.loaded_ids)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current transaction."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        warehouse = self.open_warehouse()
        try:
            if warehouse.name not in TRANSACTIONAL:
                self.errors.append(f"the collector loads into {', '.join(TRANSACTIONAL)}; "
                                   f"{warehouse.name} has no multi-statement transactions")
                log.error(self.errors[-1])
                return
            self.loaded_ids = self._read_ledger(warehouse)
            while True:
                group = self._next_group()
                if group is None:
                    return
                self._load(warehouse, group)
        finally:
            warehouse.close()

    def _next_group(self) -> list[dict[str, Any]] | None:
        with self._cond:
            while True:
                self._pending = [r for r in self._pending if r["batch_id"] not in self.loaded_ids]
                if self._pending:
                    break
                if self._stop:
                    return None
                self._cond.wait(0.5)
            group: list[dict[str, Any]] = []
            rows = 0
            for record in self._pending:
                if group and rows + len(record["rows"]) > self.max_rows:
                    break
                group.append(record)
                rows += len(record["rows"])
            return group

    def _read_ledger(self, warehouse: Warehouse) -> set[str]:
        query = exp.select(exp.column("batch_id", quoted=True)).from_(
            exp.to_table(LEDGER, dialect=warehouse.dialect))
        try:
            table = warehouse.execute(query.sql(warehouse.dialect))
        except MissingTableError:  # first start: no batch loaded yet
            return set()
        return set(table.column(0).to_pylist())

    def _load(self, warehouse: Warehouse, group: list[dict[str, Any]]) -> None:
        exposures = [row for r in group if r["stream"] == "exposures" for row in r["rows"]]
        events = [row for r in group if r["stream"] == "events" for row in r["rows"]]
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        ledger = pa.table({"batch_id": [r["batch_id"] for r in group],
                           "stream": [r["stream"] for r in group],
                           "events": pa.array([len(r["rows"]) for r in group], pa.int64()),
                           "loaded_at": pa.array([now] * len(group), pa.timestamp("us"))})
        try:
            warehouse.execute(exp.Transaction().sql(warehouse.dialect))
            if exposures:
                warehouse.write_table(self.columns.table or "exposures",
                                      _exposures_table(exposures, self.columns))
            if events:
                warehouse.write_table(self.events_table, _events_table(events))
            for name, stream in self.streams.items():
                rows = [row for r in group if r["stream"] == name for row in r["rows"]]
                if rows:
                    warehouse.write_table(stream.table, stream.to_arrow(rows))
            warehouse.write_table(LEDGER, ledger)
            warehouse.execute(exp.Commit().sql(warehouse.dialect))
        except WarehouseError as err:
            self._rollback(warehouse)
            self.errors.append(str(err))
            log.error("loading %d batches failed (will retry): %s", len(group), err)
            with self._cond:
                self._cond.wait(1.0)
            return
        with self._cond:
            self.loaded_ids.update(r["batch_id"] for r in group)
            self.loaded_events += sum(len(r["rows"]) for r in group)

    @staticmethod
    def _rollback(warehouse: Warehouse) -> None:
        with contextlib.suppress(WarehouseError):
            warehouse.execute(exp.Rollback().sql(warehouse.dialect))


def _exposures_table(rows: list[dict[str, Any]], columns: ExposureSource) -> pa.Table:
    """Journal rows (timestamps in epoch microseconds, UTC) as the project's exposure table."""
    return exposure_columns(
        columns, [r["experiment_id"] for r in rows], [r["variant"] for r in rows],
        [r["unit_id"] for r in rows],
        pa.array([r["timestamp"] for r in rows], pa.int64()).cast(pa.timestamp("us")))


def _events_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table({
        "unit_id": pa.array([r["unit_id"] for r in rows], pa.string()),
        "timestamp": pa.array([r["timestamp"] for r in rows], pa.int64()).cast(
            pa.timestamp("us")),
        "event": pa.array([r["event"] for r in rows], pa.string()),
        "value": pa.array([r["value"] for r in rows], pa.float64()),
    })
