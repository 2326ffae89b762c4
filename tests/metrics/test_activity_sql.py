"""Golden SQL of the activity kinds' statements per dialect (``ASSAY_UPDATE_GOLDEN=1``
regenerates)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlglot
from tests.metrics.activity_data import write_project

from assay.metrics.compile import compile_analysis
from assay.metrics.kinds import compile_activity
from assay.spec import load_project
from assay.spec.project import Project

GOLDEN = Path(__file__).parent / "golden"
DIALECTS = ["duckdb", "postgres", "spark", "bigquery", "snowflake", "trino"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return load_project(write_project(tmp_path_factory.mktemp("activity_sql"), segments=True))


def _statements(project: Project, dialect: str) -> dict[str, str]:
    plan = compile_analysis(project, "exp", dialect=dialect).plan
    return {
        a.metric.name: compile_activity(project, "exp", a, dialect).sql(dialect, pretty=True)
        for a in plan.activities
    }


@pytest.mark.parametrize("dialect", DIALECTS)
def test_activity_sql_matches_golden_file(project: Project, dialect: str) -> None:
    text = "\n\n".join(f"-- {name}\n{sql};" for name, sql in _statements(project, dialect).items())
    path = GOLDEN / f"activity_{dialect}.sql"
    if os.environ.get("ASSAY_UPDATE_GOLDEN"):
        path.write_text(text + "\n", encoding="utf-8")
    assert path.exists(), f"no golden file; run with ASSAY_UPDATE_GOLDEN=1 to create {path}"
    assert text + "\n" == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_activity_sql_parses_back_in_its_dialect(project: Project, dialect: str) -> None:
    for sql in _statements(project, dialect).values():
        assert sqlglot.parse_one(sql, read=dialect) is not None


def test_activity_metrics_stay_out_of_the_moments_statement(project: Project) -> None:
    compiled = compile_analysis(project, "exp", dialect="duckdb")
    assert compiled.plan.metrics == [] and compiled.metrics_query is None
    assert [a.metric.name for a in compiled.plan.activities] == [
        "checkout", "returned", "active_days"]


def test_step_filters_are_parsed_and_identifiers_quoted(project: Project) -> None:
    sql = _statements(project, "duckdb")["checkout"]
    assert '"events" AS "s"' in sql and "'purchase'" in sql
    assert '"first1"."t"' not in sql and '"p"."t"' in sql  # step 2 starts at step 1's time
