"""What the dashboard reads: the results store, and the project's specs for what it defines.

:class:`Catalog` answers the pages' questions (which experiments, the analyses of one, its
plan and decisions, a metric's observed effects) from the store's records
(:class:`assay.store.Store`). It never recomputes a statistic: figures are the stored ones, and
the only arithmetic is for drawing.

Connections: on a DuckDB file each call opens one connection and closes it, because DuckDB
locks the file per process and a dashboard holding it would block every `assay analyze`.
PostgreSQL and Spark allow other clients alongside, and a connection there is costly (a Spark
session is a JVM), so the catalog keeps one open for the server's life, used by one request
at a time, reopened after an error, and closed by :meth:`Catalog.close` at shutdown.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

from assay.errors import WarehouseError
from assay.report.html import stored_page
from assay.report.page import ExperimentPage, text, when
from assay.results import AnalysisResult, MetricResult
from assay.results.decode import result_from_dict
from assay.spec.project import Project
from assay.store import STATUSES, ExperimentRecord, Store
from assay.store.lifecycle import draft_record, store_of
from assay.warehouse import Warehouse, dialect_of


@dataclass(frozen=True)
class Summary:
    """One line of the experiment list."""

    experiment_id: str
    name: str | None
    status: str
    owner: str | None
    start: str | None
    end: str | None
    recommendation: str | None
    decision: str | None
    health: str | None
    run_at: str | None
    units: int | None


@dataclass(frozen=True)
class Effect:
    """A metric's observed effect in one experiment's latest analysis."""

    experiment_id: str
    result: MetricResult


class Catalog:
    """Reads one project's results store (and specs) for the dashboard."""

    statuses = STATUSES

    def __init__(self, project: Project, *, read_only: bool = False) -> None:
        self.project = project
        self.read_only = read_only
        self.shared = dialect_of(project.spec.warehouse) != "duckdb"
        self._warehouse: Warehouse | None = None
        self._lock = threading.Lock()

    @contextmanager
    def store(self, *, write: bool = False) -> Iterator[Store]:
        """The store (read-only unless ``write``) over this call's or the shared connection."""
        read_only = self.read_only or not write
        if not self.shared:
            with closing(self.project.warehouse(read_only=self.read_only)) as wh:
                yield store_of(self.project, wh, read_only=read_only)
            return
        with self._lock:
            if self._warehouse is None:
                self._warehouse = self.project.warehouse(read_only=self.read_only)
            try:
                yield store_of(self.project, self._warehouse, read_only=read_only)
            except WarehouseError:  # the connection may be broken: the next call opens anew
                self._close()
                raise

    def close(self) -> None:
        """Close the shared connection, if one is open (idempotent)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._warehouse is not None:
            warehouse, self._warehouse = self._warehouse, None
            warehouse.close()

    # ------------------------------------------------------------------ reads

    def summaries(self) -> list[Summary]:
        """Every experiment of the store and the project (a spec not yet stored is a draft)."""
        with self.store() as store:
            records = {r.experiment_id: r for r in store.experiments()}
            units = {i: a.units for i in records if (a := store.latest_analysis(i)) is not None}
        for experiment_id in self.project.experiments:
            records.setdefault(experiment_id, draft_record(self.project, experiment_id))
        return [self._summary(records[i], units.get(i)) for i in sorted(records)]

    def analyses(self, experiment_id: str) -> list[AnalysisResult]:
        """Stored analyses of one experiment, oldest first, as they were stored."""
        with self.store() as store:
            return _results(store, experiment_id)

    def page(self, experiment_id: str) -> ExperimentPage | None:
        """The experiment page's facts, or None for an experiment nobody knows."""
        with self.store() as store:
            return stored_page(self.project, store, experiment_id, metric_links=True)

    def decisions(self, experiment_id: str) -> list[dict[str, Any]]:
        """Recorded decisions, oldest first, in their JSON form."""
        with self.store() as store:
            return [d.to_dict() for d in store.decisions(experiment_id)]

    def effects(self, metric: str) -> list[Effect]:
        """The metric's comparisons in each experiment's latest analysis."""
        out = []
        with self.store() as store:
            for record in store.experiments():
                if record.latest_analysis_id is None:
                    continue
                data = store.result_json(record.latest_analysis_id)
                if data is None:
                    continue
                result = result_from_dict(data)
                # a funnel's comparisons are `<funnel>.<step>`
                out += [Effect(record.experiment_id, r) for r in result.results
                        if r.metric.partition(".")[0] == metric]
        return out

    def variants(self, experiment_id: str) -> list[str]:
        """The experiment's variant names (spec first, else the latest analysis's arms)."""
        spec = self.project.experiments.get(experiment_id)
        if spec is not None:
            return [v.name for v in spec.variants]
        looks = self.analyses(experiment_id)
        return [a.variant for a in looks[-1].arms] if looks else []

    def definition(self, metric: str) -> list[tuple[str, str]]:
        """A metric spec's fields as (field, text) pairs."""
        spec = self.project.metrics[metric].model_dump(mode="json", exclude_none=True)
        return [(k, text(v)) for k, v in spec.items() if k not in ("name", "description")]

    def used_by(self, metric: str) -> list[tuple[str, str]]:
        """(experiment, role) of every experiment spec that names the metric."""
        out = []
        for experiment_id, spec in sorted(self.project.experiments.items()):
            for role in ("primary", "secondary", "guardrails"):
                if metric in getattr(spec.metrics, role):
                    out.append((experiment_id, role.removesuffix("s")))
        return out

    # ------------------------------------------------------------------ internals

    def _summary(self, record: ExperimentRecord, units: int | None) -> Summary:
        spec = self.project.experiments.get(record.experiment_id)
        start = record.started_at or (spec.start if spec else None)
        end = record.stopped_at or (spec.end if spec else None)
        return Summary(
            experiment_id=record.experiment_id,
            name=record.name or (spec.name if spec else None),
            status=record.status,
            owner=record.owner or (spec.owner if spec else None),
            start=when(start) or None,
            end=when(end) or None,
            recommendation=record.latest_recommendation,
            decision=record.latest_decision,
            health=record.latest_check_status,
            run_at=when(record.latest_run_at) or None,
            units=units,
        )


def _results(store: Store, experiment_id: str) -> list[AnalysisResult]:
    out = []
    for analysis in store.analyses(experiment_id):
        data = store.result_json(analysis.analysis_id)
        if data is not None:
            out.append(result_from_dict(data))
    return out
