"""Loads journaled batches into the warehouse, exactly once, in transactions with a ledger.

Each load is one transaction: the rows of a group of batches and, in a ledger table
(``assay_collector_batches``), those batches' ids. After a crash the loader reads the ledger and
loads only the journaled batches it does not list: a batch is in the warehouse zero times (not
yet loaded, will be) or once (its rows and its ledger row committed together).

The loader never dies. Any failure (the warehouse unreachable or locked, a refused write) is
recorded in :meth:`Loader.status` and retried with exponential back-off on a fresh connection.
When the warehouse answers but refuses a group, the group is split until the refused batch is
alone; once a batch has been refused ``poison_after`` times in a row, its rows are probed (in
rolled-back transactions, by bisection), the refused rows go to the dead-letter table
``assay_collector_dead_letters`` with the warehouse's reason, and the rest load as usual: one
poison event never blocks the batches behind it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlglot import exp

from assay.errors import AssayError, MissingTableError
from assay.exposure.journal import Entry, Journal, JournalError, Position
from assay.exposure.streams import Row, Stream
from assay.warehouse.base import Warehouse, first_line

log = logging.getLogger("assay.collector")
LEDGER = "assay_collector_batches"
LEDGER_CHUNK = 500
"""Batch ids asked about per ledger query when the loader connects."""
DEAD_LETTERS = "assay_collector_dead_letters"
TRANSACTIONAL = ("duckdb", "postgres")


@dataclass(frozen=True, slots=True)
class Pending:
    """A journaled batch not yet in the warehouse."""

    batch_id: str
    stream: str
    rows: int
    position: Position


class Loader:
    """Background loading of journal records into the warehouse.

    Args:
        open_warehouse: Opens the warehouse (called in the loader thread, which owns it).
        streams: Stream name -> :class:`~assay.exposure.streams.Stream` (its table).
        journal: Where the records are read back from (and retired once loaded).
        max_rows: Rows per transaction (several batches are grouped up to this size).
        retry_initial: First back-off after a failure, in seconds (doubles each time).
        retry_max: Longest back-off, in seconds.
        poison_after: Refusals in a row, with the warehouse otherwise answering, before a
            batch's refused rows are quarantined.
    """

    def __init__(self, open_warehouse: Callable[[], Warehouse], streams: Mapping[str, Stream],
                 journal: Journal, *, max_rows: int = 20_000, retry_initial: float = 0.5,
                 retry_max: float = 30.0, poison_after: int = 3) -> None:
        self.open_warehouse = open_warehouse
        self.streams = streams
        self.journal = journal
        self.max_rows = max_rows
        self.retry_initial, self.retry_max = retry_initial, retry_max
        self.poison_after = poison_after
        self.loaded_events = 0
        self.dead_letter_events = 0
        self.errors: deque[str] = deque(maxlen=20)
        self._state = "starting"
        self._failures = 0
        self._last_success: str | None = None
        self._strikes: Counter[str] = Counter()
        self._pending: dict[str, Pending] = {}
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="assay-loader", daemon=True)

    def start(self, entries: list[Entry]) -> None:
        """Start loading: the journal's batches not yet in the ledger, then new ones."""
        for entry in entries:
            if entry.position is not None and entry.summary["accepted"]:
                self._add(entry.summary, entry.position)
        self._thread.start()

    def submit(self, summary: Mapping[str, Any], position: Position) -> None:
        """Queue a newly journaled batch (its summary and where its record is)."""
        if summary["accepted"]:
            with self._cond:
                self._add(summary, position)
                self._cond.notify()

    def _add(self, summary: Mapping[str, Any], position: Position) -> None:
        batch_id = summary["batch_id"]
        self._pending.setdefault(batch_id, Pending(batch_id, summary["stream"],
                                                   summary["accepted"], position))

    @property
    def pending_events(self) -> int:
        """Journaled rows not yet committed to the warehouse."""
        with self._cond:
            return sum(p.rows for p in self._pending.values())

    def status(self) -> dict[str, Any]:
        """The loader's health: ``state`` (running, retrying, stopped), failures in a row, the
        last error and the last successful load (UTC, ISO 8601)."""
        with self._cond:
            return {"state": self._state, "consecutive_failures": self._failures,
                    "last_error": self.errors[-1] if self.errors else None,
                    "last_success_at": self._last_success}

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current transaction."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        warehouse: Warehouse | None = None
        while True:
            try:
                if warehouse is None:
                    warehouse = self._connect()
                group = self._next_group()
                if group is None:
                    break
                self._load(warehouse, group)
                self._succeeded()
            except Exception as err:
                self._failed(err)
                _close(warehouse)
                warehouse = None
                if not self._back_off():
                    break
        _close(warehouse)
        with self._cond:
            self._state = "stopped"

    def _connect(self) -> Warehouse:
        warehouse = self.open_warehouse()
        try:
            if warehouse.name not in TRANSACTIONAL:
                raise AssayError(f"the collector loads into {', '.join(TRANSACTIONAL)}; "
                                 f"{warehouse.name} has no multi-statement transactions")
            with self._cond:
                waiting = list(self._pending)
            loaded = self._read_ledger(warehouse, waiting)
        except BaseException:
            _close(warehouse)
            raise
        with self._cond:
            done = {b for b in self._pending if b in loaded}
            for batch_id in done:
                del self._pending[batch_id]
        self.journal.mark_loaded(done)
        with self._cond:
            self._state = "running"
        return warehouse

    def _succeeded(self) -> None:
        with self._cond:
            self._state, self._failures = "running", 0
            self._last_success = dt.datetime.now(dt.UTC).isoformat()

    def _failed(self, err: Exception) -> None:
        message = f"{type(err).__name__}: {first_line(err)}" \
            if not isinstance(err, AssayError) else first_line(err)
        with self._cond:
            self._state = "retrying"
            self._failures += 1
            self.errors.append(message)
        log.error("loader: %s (retry %d)", message, self._failures)

    def _back_off(self) -> bool:
        """Wait before the next attempt; False if the loader was stopped meanwhile."""
        with self._cond:
            delay = min(self.retry_max, self.retry_initial * 2 ** min(self._failures - 1, 30))
            deadline = time.monotonic() + delay
            while not self._stop and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return not self._stop

    def _next_group(self) -> list[Pending] | None:
        with self._cond:
            while True:
                ready = [p for p in self._pending.values() if p.stream in self.streams]
                if ready:
                    break
                if self._stop:
                    return None
                self._cond.wait(0.5)
            group: list[Pending] = []
            rows = 0
            for pending in ready:
                if group and rows + pending.rows > self.max_rows:
                    break
                group.append(pending)
                rows += pending.rows
            return group

    def _read_ledger(self, warehouse: Warehouse, batch_ids: list[str]) -> set[str]:
        """Which of ``batch_ids`` the ledger holds: asked about those ids alone, a chunk at a
        time, so a ledger of years of batches is not read into memory at each connect."""
        loaded: set[str] = set()
        for start in range(0, len(batch_ids), LEDGER_CHUNK):
            ids = [exp.Literal.string(b) for b in batch_ids[start:start + LEDGER_CHUNK]]
            column = exp.column("batch_id", quoted=True)
            query = exp.select(column).from_(exp.to_table(LEDGER, dialect=warehouse.dialect)) \
                .where(exp.In(this=column.copy(), expressions=ids))
            try:
                table = warehouse.execute(query.sql(warehouse.dialect))
            except MissingTableError:  # first start: no batch loaded yet
                return set()
            loaded.update(table.column(0).to_pylist())
        return loaded

    # -- loading -----------------------------------------------------------------------------

    def _load(self, warehouse: Warehouse, group: list[Pending]) -> None:
        """Commit ``group``; on a refusal, split it so that the refused batch is found alone."""
        records = [self._read(p) for p in group]
        loadable = [(p, r) for p, r in zip(group, records, strict=True) if r is not None]
        try:
            self._commit(warehouse, loadable, {})
        except Exception:
            _rollback(warehouse)
            if not _answers(warehouse):
                raise  # the warehouse is away: the whole group is retried after a back-off
            if len(group) > 1:
                half = len(group) // 2
                self._load(warehouse, group[:half])
                self._load(warehouse, group[half:])
                return
            self._strikes[group[0].batch_id] += 1
            if self._strikes[group[0].batch_id] < self.poison_after or not loadable:
                raise
            refused = self._quarantine(warehouse, *loadable[0])
            self._done(group, loadable[0][0].rows - refused)
            return
        self._done(group, sum(p.rows for p, _ in loadable))

    def _read(self, pending: Pending) -> dict[str, Any] | None:
        try:
            return self.journal.read(pending.position)
        except (OSError, JournalError) as err:  # acknowledged, then lost on disk: say so
            with self._cond:
                self.errors.append(f"batch {pending.batch_id}: {err}")
            log.error("loader: cannot read batch %s back: %s", pending.batch_id, err)
            return None

    def _done(self, group: list[Pending], rows: int) -> None:
        ids = {p.batch_id for p in group}
        with self._cond:
            for batch_id in ids:
                self._pending.pop(batch_id, None)
                self._strikes.pop(batch_id, None)
            self.loaded_events += rows
        self.journal.mark_loaded(ids)

    def _commit(self, warehouse: Warehouse, group: list[tuple[Pending, dict[str, Any]]],
                dead: Mapping[str, list[tuple[Row, str]]]) -> None:
        """One transaction: every stream's rows, the dead letters and the ledger rows."""
        by_stream: dict[str, list[Row]] = {}
        for pending, record in group:
            refused = {id(row) for row, _ in dead.get(pending.batch_id, [])}
            by_stream.setdefault(pending.stream, []).extend(
                row for row in record["rows"] if id(row) not in refused)
        warehouse.execute(exp.Transaction().sql(warehouse.dialect))
        for name, rows in by_stream.items():
            if rows:
                stream = self.streams[name]
                warehouse.write_table(stream.table, stream.to_arrow(rows))
        if any(dead.values()):
            warehouse.write_table(DEAD_LETTERS, _dead_letter_table(group, dead))
        warehouse.write_table(LEDGER, _ledger_table(group, dead))
        warehouse.execute(exp.Commit().sql(warehouse.dialect))

    def _quarantine(self, warehouse: Warehouse, pending: Pending,
                    record: dict[str, Any]) -> int:
        """Load what the warehouse accepts of a refused batch, the rest to dead letters;
        returns how many rows were refused."""
        stream = self.streams[pending.stream]
        refused = _refused_rows(warehouse, stream, record["rows"])
        if len(refused) == len(record["rows"]) and not _answers(warehouse):
            raise AssayError("the warehouse stopped answering while a batch was probed")
        self._commit(warehouse, [(pending, record)], {pending.batch_id: refused})
        with self._cond:
            self.dead_letter_events += len(refused)
            self.errors.append(f"batch {pending.batch_id}: {len(refused)} events refused by "
                               f"the warehouse, moved to {DEAD_LETTERS}")
        log.error("loader: %s", self.errors[-1])
        return len(refused)


def _refused_rows(warehouse: Warehouse, stream: Stream, rows: list[Row]
                  ) -> list[tuple[Row, str]]:
    """The rows the warehouse refuses and why, found by bisection in rolled-back writes."""
    reason = _probe(warehouse, stream, rows)
    if reason is None:
        return []
    if len(rows) == 1:
        return [(rows[0], reason)]
    half = len(rows) // 2
    return (_refused_rows(warehouse, stream, rows[:half])
            + _refused_rows(warehouse, stream, rows[half:]))


def _probe(warehouse: Warehouse, stream: Stream, rows: list[Row]) -> str | None:
    try:
        warehouse.execute(exp.Transaction().sql(warehouse.dialect))
        warehouse.write_table(stream.table, stream.to_arrow(rows))
    except Exception as err:
        _rollback(warehouse)
        return _printable(first_line(err))
    _rollback(warehouse)
    return None


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)[:1000]


def _ledger_table(group: list[tuple[Pending, dict[str, Any]]],
                  dead: Mapping[str, list[tuple[Row, str]]]) -> pa.Table:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    loaded = [len(r["rows"]) - len(dead.get(p.batch_id, [])) for p, r in group]
    return pa.table({"batch_id": [p.batch_id for p, _ in group],
                     "stream": [p.stream for p, _ in group],
                     "events": pa.array(loaded, pa.int64()),
                     "loaded_at": pa.array([now] * len(group), pa.timestamp("us"))})


def _dead_letter_table(group: list[tuple[Pending, dict[str, Any]]],
                       dead: Mapping[str, list[tuple[Row, str]]]) -> pa.Table:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [(p.batch_id, p.stream, row, reason)
            for p, _ in group for row, reason in dead.get(p.batch_id, [])]
    return pa.table({
        "batch_id": pa.array([r[0] for r in rows], pa.string()),
        "stream": pa.array([r[1] for r in rows], pa.string()),
        # ASCII JSON: a NUL or any other character the table refused is stored escaped
        "event": pa.array([json.dumps(r[2], ensure_ascii=True) for r in rows], pa.string()),
        "reason": pa.array([r[3] for r in rows], pa.string()),
        "quarantined_at": pa.array([now] * len(rows), pa.timestamp("us")),
    })


def _answers(warehouse: Warehouse) -> bool:
    try:
        warehouse.execute(exp.select(exp.Literal.number(1)).sql(warehouse.dialect))
    except Exception:
        return False
    return True


def _rollback(warehouse: Warehouse) -> None:
    # a rollback after a failure may fail too (no transaction open): the first error counts
    with contextlib.suppress(Exception):
        warehouse.execute(exp.Rollback().sql(warehouse.dialect))


def _close(warehouse: Warehouse | None) -> None:
    if warehouse is not None:
        with contextlib.suppress(Exception):
            warehouse.close()
