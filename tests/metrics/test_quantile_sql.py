"""Golden SQL of the quantile statements per dialect (``ASSAY_UPDATE_GOLDEN=1`` regenerates)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlglot
from tests.metrics.latency import write_latency_project

from assay.metrics.compile import compile_analysis
from assay.metrics.quantiles import compile_quantiles
from assay.spec import load_project
from assay.spec.project import Project

GOLDEN = Path(__file__).parent / "golden"
DIALECTS = ["duckdb", "postgres", "spark", "bigquery", "snowflake", "trino"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return load_project(write_latency_project(tmp_path_factory.mktemp("quantile_sql")))


def _statements(project: Project, dialect: str) -> dict[str, str]:
    plan = compile_analysis(project, "exp", dialect=dialect).plan
    return {
        q.metric.name: compile_quantiles(project, "exp", q, dialect).sql(dialect, pretty=True)
        for q in plan.quantiles
    }


@pytest.mark.parametrize("dialect", DIALECTS)
def test_quantile_sql_matches_golden_file(project: Project, dialect: str) -> None:
    text = "\n\n".join(f"-- {name}\n{sql};" for name, sql in _statements(project, dialect).items())
    path = GOLDEN / f"quantiles_{dialect}.sql"
    if os.environ.get("ASSAY_UPDATE_GOLDEN"):
        path.write_text(text + "\n", encoding="utf-8")
    assert path.exists(), f"no golden file; run with ASSAY_UPDATE_GOLDEN=1 to create {path}"
    assert text + "\n" == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_quantile_sql_parses_back_in_its_dialect(project: Project, dialect: str) -> None:
    for sql in _statements(project, dialect).values():
        assert sqlglot.parse_one(sql, read=dialect) is not None


def test_quantile_metrics_stay_out_of_the_moments_statement(project: Project) -> None:
    compiled = compile_analysis(project, "exp", dialect="duckdb")
    assert [m.metric.name for m in compiled.plan.metrics] == ["requests"]
    assert "ROW_NUMBER" not in compiled.statements()["metrics"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_segmented_quantile_sql_matches_golden_file(project: Project, dialect: str) -> None:
    plan = compile_analysis(project, "exp", dialect=dialect).plan
    statements = {q.metric.name: compile_quantiles(project, "exp", q, dialect, "region")
                  .sql(dialect, pretty=True) for q in plan.quantiles}
    text = "\n\n".join(f"-- {name} by region\n{sql};" for name, sql in statements.items())
    for sql in statements.values():
        assert sqlglot.parse_one(sql, read=dialect) is not None
    path = GOLDEN / f"quantiles_segmented_{dialect}.sql"
    if os.environ.get("ASSAY_UPDATE_GOLDEN"):
        path.write_text(text + "\n", encoding="utf-8")
    assert path.exists(), f"no golden file; run with ASSAY_UPDATE_GOLDEN=1 to create {path}"
    assert text + "\n" == path.read_text(encoding="utf-8")
