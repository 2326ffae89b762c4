"""Golden SQL per dialect of an experiment with covariates of every kind (one metrics statement).

Regenerate after an intended change with ``ASSAY_UPDATE_GOLDEN=1 pytest tests/metrics``.
"""

from __future__ import annotations

import os
import re

import pytest
import sqlglot
from tests.metrics.covariates_data import write_project
from tests.metrics.test_golden_sql import DIALECTS, GOLDEN

from assay.metrics.compile import compile_analysis
from assay.spec import load_project
from assay.spec.project import Project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return load_project(write_project(tmp_path_factory.mktemp("covariates")))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_covariate_sql_matches_golden_file(project: Project, dialect: str) -> None:
    statements = compile_analysis(project, "exp", dialect=dialect).statements()
    text = "\n\n".join(f"-- {name}\n{sql};" for name, sql in statements.items()) + "\n"
    path = GOLDEN / f"covariates_{dialect}.sql"
    if os.environ.get("ASSAY_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file; run with ASSAY_UPDATE_GOLDEN=1 to create {path}"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_covariate_sql_parses_back_and_quotes_what_assay_wrote(project: Project,
                                                               dialect: str) -> None:
    sql = compile_analysis(project, "exp", dialect=dialect).statements()["metrics"]
    assert sqlglot.parse_one(sql, read=dialect) is not None
    assert "sqlglot:" not in sql
    quote = "`" if dialect in ("spark", "bigquery") else '"'
    for column in ("tenure_days", "plan", "predicted_revenue", "experiment_id"):
        assert f"{quote}{column}{quote}" in sql, column
    assert "'pro'" in sql and "'team'" in sql and "'free'" not in sql  # free: the baseline
    # every moment of revenue's seven variables (y, CUPED's x, five covariates) is summed
    assert len(set(re.findall(r"m0__s__\w+", sql))) == 7
    assert len(set(re.findall(r"m0__ss__\w+", sql))) == 7 * 8 // 2
