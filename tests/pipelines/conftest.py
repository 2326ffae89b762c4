"""Fixtures of the pipeline tests: a JSON-vs-Parquet experiment and a DuckDB file warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_helpers import format_experiment

from assay.pipelines import PipelineExperiment


@pytest.fixture
def setup() -> PipelineExperiment:
    return PipelineExperiment("ingest_orders", format_experiment())


@pytest.fixture
def wh_url(tmp_path: Path) -> str:
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
