"""Results are records: the results store in the project's own warehouse.

Typed tables (``experiments``, ``plans``, ``analyses``, ``arms``, ``results``, ``checks``,
``decisions``, and ``schema_version``) that any BI tool can query; ``docs/store.md`` documents
them. Read them through :class:`Store` (typed records), write analyses through
:func:`assay.store.lifecycle.analyse` or :func:`save_result`. The lifecycle (start, stop,
decide) lives in :mod:`assay.store.lifecycle` and :mod:`assay.store.decisions`.
"""

from __future__ import annotations

from typing import Any

from assay.results import AnalysisResult, decide
from assay.store.records import (
    DECISION_KINDS,
    STATUSES,
    AnalysisRecord,
    CheckRecord,
    DecisionRecord,
    ExperimentRecord,
    PlanRecord,
    ResultRecord,
)
from assay.store.rows import analysis_rows
from assay.store.schema import Layout
from assay.store.tables import SavedAnalysis, Store
from assay.warehouse import Warehouse

__all__ = [
    "DECISION_KINDS",
    "STATUSES",
    "AnalysisRecord",
    "CheckRecord",
    "DecisionRecord",
    "ExperimentRecord",
    "Layout",
    "PlanRecord",
    "ResultRecord",
    "SavedAnalysis",
    "Store",
    "load_results",
    "recorded_units",
    "save_result",
]


def save_result(warehouse: Warehouse, result: AnalysisResult, schema: str | None = None, *,
                prefix: str = "assay_") -> str:
    """Record ``result`` (as a draft experiment's analysis unless the store knows better).

    Idempotent: a result whose input fingerprint is stored already is not written again.
    Returns the analysis id.
    """
    store = Store(warehouse, Layout(schema, prefix))
    row = store.experiment_row(result.experiment)
    recommendation = decide(result)
    tables = analysis_rows(result.to_dict(),
                           recommendation=(recommendation.verdict, recommendation.reasons),
                           experiment_status=row["status"] if row else "draft",
                           plan_hash=row["plan_hash"] if row else None, duration_s=None)
    return store.save_analysis(tables).analysis_id


def load_results(warehouse: Warehouse, experiment: str | None = None,
                 schema: str | None = None, *, prefix: str = "assay_") -> list[dict[str, Any]]:
    """Stored analyses, newest first, each with its decoded JSON ``result``.

    Keys: ``analysis_id``, ``experiment``, ``run_at``, ``spec_hash``, ``status`` (worst check),
    ``decision`` (the automatic recommendation), ``units`` and ``result``.
    """
    store = Store(warehouse, Layout(schema, prefix))
    ids = ([experiment] if experiment is not None
           else [e.experiment_id for e in store.experiments()])
    out: list[dict[str, Any]] = []
    for experiment_id in ids:
        for record in store.analyses(experiment_id):
            out.append({"analysis_id": record.analysis_id, "experiment": experiment_id,
                        "run_at": record.run_at, "spec_hash": record.spec_hash,
                        "status": record.check_status, "decision": record.recommendation,
                        "units": record.units, "result": store.result_json(record.analysis_id)})
    return sorted(out, key=lambda r: (r["run_at"], r["analysis_id"]), reverse=True)


def recorded_units(warehouse: Warehouse, experiment: str, spec_hash: str,
                   schema: str | None = None, *, prefix: str = "assay_") -> list[int]:
    """Units analysed at each stored analysis of ``experiment`` under exactly ``spec_hash``.

    The earlier looks of a group sequential design, read without the JSON payloads.
    """
    return Store(warehouse, Layout(schema, prefix)).recorded_units(experiment, spec_hash)
