"""Shared pieces of the pipeline tests: a two-configuration experiment."""

from __future__ import annotations

import datetime as dt

from assay.spec.models import ExperimentSpec

T0 = dt.datetime(2026, 11, 2, 6, 0)


def format_experiment(exp_id: str = "orders_format", **over: object) -> ExperimentSpec:
    """JSON (control) vs Parquet."""
    return ExperimentSpec.model_validate({
        "id": exp_id, "variants": [{"name": "json", "weight": 1, "control": True},
                                   {"name": "parquet", "weight": 1}], **over})
