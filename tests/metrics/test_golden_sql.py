"""Golden SQL per dialect: a change in the generated SQL is a readable diff in review.

Regenerate after an intended change with ``ASSAY_UPDATE_GOLDEN=1 pytest tests/metrics``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlglot
from tests.analysis.shop import METRICS, PROJECT, experiment_yaml

from assay.metrics.compile import compile_analysis
from assay.spec import load_project

GOLDEN = Path(__file__).parent / "golden"
DIALECTS = ["duckdb", "postgres", "spark", "bigquery", "snowflake", "trino"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("golden")
    (root / "metrics").mkdir()
    (root / "experiments").mkdir()
    (root / "assay_project.yml").write_text(PROJECT)
    (root / "metrics" / "shop.yml").write_text(METRICS)
    (root / "experiments" / "exp.yml").write_text(experiment_yaml())
    (root / "experiments" / "plain.yml").write_text(experiment_yaml(segments=False))
    return load_project(root)


# exp: segmented, so every metric goes through per_unit; plain: most metrics are reduced per source
@pytest.mark.parametrize("experiment", ["exp", "plain"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_sql_matches_golden_file(project, dialect: str, experiment: str) -> None:  # type: ignore[no-untyped-def]
    statements = compile_analysis(project, experiment, dialect=dialect).statements()
    text = "\n\n".join(f"-- {name}\n{sql};" for name, sql in statements.items()) + "\n"
    path = GOLDEN / (f"{dialect}.sql" if experiment == "exp" else f"{dialect}_{experiment}.sql")
    if os.environ.get("ASSAY_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file; run with ASSAY_UPDATE_GOLDEN=1 to create {path}"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("experiment", ["exp", "plain"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_generated_sql_parses_back_in_its_dialect(project, dialect: str, experiment: str) -> None:  # type: ignore[no-untyped-def]
    for sql in compile_analysis(project, experiment, dialect=dialect).statements().values():
        assert sqlglot.parse_one(sql, read=dialect) is not None


def test_user_identifiers_are_quoted_and_literals_escaped(project) -> None:  # type: ignore[no-untyped-def]
    sql = compile_analysis(project, "exp", dialect="duckdb").statements()["metrics"]
    assert '"exposures" AS "x"' in sql and '"orders" AS "s"' in sql
    assert "'cancelled'" in sql
