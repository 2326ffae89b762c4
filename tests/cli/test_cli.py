"""The command line as a user drives it: init, validate, sql, analyze (table and JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.analysis.shop import Shop, write_project
from typer.testing import CliRunner

from assay.cli import app

runner = CliRunner()

# Keys of the documented JSON contract (docs/json-schema.md).
RESULT_KEYS = {
    "metric",
    "variant",
    "control",
    "kind",
    "n_control",
    "n_treatment",
    "mean_control",
    "mean_treatment",
    "diff",
    "diff_se",
    "diff_ci",
    "rel_lift",
    "rel_lift_ci",
    "p_value",
    "p_value_adjusted",
    "cuped_variance_reduction",
    "error",
}


@pytest.fixture()
def project(tmp_path: Path, shop: Shop) -> Path:
    return write_project(tmp_path / "shop", shop)


def test_help_teaches_with_examples() -> None:
    result = runner.invoke(app, ["analyze", "--help"])
    assert result.exit_code == 0
    assert "assay analyze checkout_redesign --format json" in result.output


def test_init_scaffolds_a_project_that_validates_offline(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path / "new")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["validate", "--project", str(tmp_path / "new"), "--offline"])
    assert result.exit_code == 0, result.output
    assert "4 metrics and 1 experiments are valid" in result.output


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    runner.invoke(app, ["init", str(tmp_path)])
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 1 and "--force" in result.output


def test_validate_reports_located_problems_with_exit_code_2(project: Path) -> None:
    spec = project / "experiments" / "exp.yml"
    spec.write_text(spec.read_text().replace("primary: [revenue]", "primary: [revnue]"))
    result = runner.invoke(app, ["validate", "--project", str(project)])
    assert result.exit_code == 2
    assert (
        "exp.yml:7: metrics.primary[0]: unknown metric `revnue`; did you mean `revenue`?"
        in result.output
    )


def test_validate_checks_columns_in_the_warehouse(project: Path) -> None:
    metrics = project / "metrics" / "shop.yml"
    metrics.write_text(metrics.read_text().replace("value: duration_s", "value: duraton_s"))
    assert runner.invoke(app, ["validate", "-p", str(project), "--offline"]).exit_code == 0
    result = runner.invoke(app, ["validate", "-p", str(project)])
    assert result.exit_code == 2 and "did you mean `duration_s`?" in result.output


def test_analyze_json_has_the_documented_shape(project: Path) -> None:
    result = runner.invoke(app, ["analyze", "exp", "-p", str(project), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"experiment", "spec_hash", "arms", "results", "checks", "sql", "versions"} <= set(data)
    assert data["experiment"] == "exp" and len(data["spec_hash"]) == 64
    assert {a["variant"] for a in data["arms"]} == {"control", "treatment"}
    assert all(set(r) >= RESULT_KEYS for r in data["results"])
    assert all({"name", "status", "figures", "message"} <= set(c) for c in data["checks"])
    assert {c["status"] for c in data["checks"]} <= {"pass", "warn", "fail"}


def test_analyze_table_and_stored_record(project: Path) -> None:
    result = runner.invoke(app, ["analyze", "exp", "-p", str(project)])
    assert result.exit_code == 0, result.output
    assert "revenue" in result.output and "Health checks" in result.output
    from assay.store import load_results
    from assay.warehouse.duckdb import DuckDBWarehouse

    wh = DuckDBWarehouse(project / "warehouse.duckdb")
    [record] = load_results(wh, "exp")
    wh.close()
    assert record["result"]["experiment"] == "exp" and record["decision"]


def test_analyze_markdown_writes_a_report_with_a_chart(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "exp.md"
    result = runner.invoke(
        app,
        [
            "analyze",
            "exp",
            "-p",
            str(project),
            "--format",
            "markdown",
            "--out",
            str(out),
            "--no-store",
        ],
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "**Decision:" in text and "## Health checks" in text
    assert text.startswith("> exp: draft")  # the same status line as every other output
    assert (out.parent / "exp_lift.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "dialect", ["duckdb", "postgres", "bigquery", "snowflake", "spark", "trino"]
)
def test_sql_prints_each_dialect(project: Path, dialect: str) -> None:
    result = runner.invoke(app, ["sql", "exp", "-p", str(project), "--dialect", dialect])
    assert result.exit_code == 0, result.output
    assert "-- metrics" in result.output and "-- exposures" in result.output


def test_unknown_experiment_suggests_one(project: Path) -> None:
    result = runner.invoke(app, ["analyze", "epx", "-p", str(project)])
    assert result.exit_code == 2 and "did you mean `exp`?" in result.output


def test_validate_flags_a_shared_salt_at_its_line(project: Path) -> None:
    exp_file = project / "experiments" / "exp.yml"
    (project / "experiments" / "twin.yml").write_text(exp_file.read_text() + "salt: exp\n")
    result = runner.invoke(app, ["validate", "-p", str(project), "--offline"])
    assert result.exit_code == 2, result.output
    assert "shared_salt" in result.output and ".yml:" in result.output
