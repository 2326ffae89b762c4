"""Where run records go: the durable exposure path (journal -> loader), or memory.

:class:`JournalRunSink` appends every record to an fsynced journal before the run goes on, and
a :class:`assay.exposure.loader.Loader` moves journaled records to the warehouse in
transactions with its ledger: the run's exposure to ``exposures``, its rows to
``pipeline_runs`` and ``pipeline_run_kpis``. A pipeline that crashes loses no finished run: a
new sink on the same folder loads whatever the ledger does not list yet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from assay.exposure.journal import Journal
from assay.exposure.loader import Loader
from assay.exposure.streams import Row, Stream, exposure_stream
from assay.exposure.validation import Rejection
from assay.pipelines.records import KPIS_TABLE, RUNS_TABLE, kpis_table, runs_table
from assay.spec.models import ExposureSource
from assay.warehouse.base import Warehouse


def _recorded(index: int, event: Any) -> tuple[Row | None, Rejection | None]:
    """Run records are built by the recorder itself, already checked: taken as they are."""
    return dict(event), None


STREAMS = {"pipeline_runs": Stream("pipeline_runs", RUNS_TABLE, _recorded, runs_table),
           "pipeline_kpis": Stream("pipeline_kpis", KPIS_TABLE, _recorded, kpis_table)}
JOURNAL_DIR = "pipeline_journal"


class RunSink(Protocol):
    """Receives run records; returns once they are durable."""

    def write(self, stream: str, rows: list[dict[str, Any]]) -> None:
        """Deliver rows of one stream (``exposures``, ``pipeline_runs``, ``pipeline_kpis``)."""
        ...

    def close(self) -> None:
        """Finish delivering and release resources."""
        ...


class MemoryRunSink:
    """Keeps records in memory, by stream (tests, notebooks, dry runs)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def write(self, stream: str, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self.rows.setdefault(stream, []).extend(rows)

    def close(self) -> None:
        return None


class JournalRunSink:
    """Journals records (fsync) and loads them into the warehouse in the background.

    Args:
        data_dir: Folder of the journal (one per recording process).
        open_warehouse: Opens the warehouse (DuckDB or PostgreSQL; called in the loader's
            thread, which owns the connection).
        columns: The project's exposure table mapping.
    """

    def __init__(self, data_dir: str | Path, open_warehouse: Callable[[], Warehouse], *,
                 columns: ExposureSource | None = None) -> None:
        self.journal = Journal(Path(data_dir) / JOURNAL_DIR)
        # the exposure stream's validation is the collector's; the recorder's rows are its own
        streams = {"exposures": exposure_stream({}, columns or ExposureSource()), **STREAMS}
        self.loader = Loader(open_warehouse, streams, self.journal)
        self.loader.start(self.journal.entries())
        self._closed = False

    def write(self, stream: str, rows: list[dict[str, Any]]) -> None:
        summary, position = self.journal.append_batch(stream, rows)  # durable, then go on
        self.loader.submit(summary, position)

    @property
    def errors(self) -> list[str]:
        """Load errors so far (each load is retried)."""
        return list(self.loader.errors)

    def close(self, timeout: float = 60.0) -> None:
        """Load what is pending, then close the journal (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.loader.stop(timeout)
        self.journal.close()
