"""`assay validate` reports every problem at once, across both of its stages: the spec checks
(load, cross-file references) and the catalogue look-ups (tables and columns), each problem once,
for every experiment, metric and source, used by an experiment or not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.analysis.shop import Shop, write_project
from typer.testing import CliRunner

from assay.analysis.preflight import catalogue_issues
from assay.cli import app
from assay.spec import load_project
from assay.warehouse.duckdb import DuckDBWarehouse

runner = CliRunner()


@pytest.fixture()
def project(tmp_path: Path, shop: Shop) -> Path:
    return write_project(tmp_path / "shop", shop)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _problems(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip().startswith("✘")]


def test_a_column_typo_is_reported_with_the_structural_errors_once(project: Path) -> None:
    experiment = project / "experiments" / "exp.yml"
    (project / "experiments" / "exp2.yml").write_text(experiment.read_text())
    _edit(experiment, "primary: [revenue]", "primary: [revnue]")  # a structural error
    # `revenue` is a part of the ratio `aov` and is named by both experiments
    _edit(project / "metrics" / "shop.yml", "value: amount\n", "value: amuont\n")
    result = runner.invoke(app, ["validate", "-p", str(project)])
    assert result.exit_code == 2, result.output
    problems = _problems(result.output)
    assert "2 problems in the spec" in result.output, result.output
    assert any("unknown metric `revnue`" in p for p in problems), problems
    typo = [p for p in problems if "column `amuont` is not in `orders`" in p]
    assert len(typo) == 1, problems
    assert re.search(r"shop\.yml:4: metrics\[0\]\.value: .*did you mean `amount`\?", typo[0])


def test_every_experiment_is_checked_not_only_the_first(project: Path) -> None:
    experiment = project / "experiments" / "exp.yml"
    (project / "experiments" / "exp2.yml").write_text(
        experiment.read_text().replace("segments: [platform]", "segments: [platfrom]"))
    _edit(experiment, "segments: [platform]", "segments: [country]")
    result = runner.invoke(app, ["validate", "-p", str(project)])
    assert result.exit_code == 2, result.output
    problems = _problems(result.output)
    assert len(problems) == 2, problems
    assert any(re.search(r"exp\.yml:\d+: segments\[0\]: column `country` \(segment\)", p)
               for p in problems), problems
    assert any("exp2.yml" in p and "did you mean `platform`?" in p for p in problems), problems


def test_a_source_no_experiment_uses_is_checked(project: Path) -> None:
    _edit(project / "assay_project.yml", "sessions: {",
          "refunds: {table: refunds, unit: user_id, timestamp: created_at}\n"
          "  returns: {table: orders, unit: user_id, timestamp: returned_at}\n  sessions: {")
    result = runner.invoke(app, ["validate", "-p", str(project)])
    assert result.exit_code == 2, result.output
    problems = _problems(result.output)
    assert len(problems) == 2, problems
    assert any(re.search(r"assay_project\.yml:\d+: sources\.refunds\.table: the source table "
                         r"`refunds` does not exist", p) for p in problems), problems
    assert any(re.search(r"sources\.returns\.timestamp: column `returned_at` \(timestamp\) "
                         r"is not in `orders`", p) for p in problems), problems
    assert runner.invoke(app, ["validate", "-p", str(project), "--offline"]).exit_code == 0


def test_a_metric_no_experiment_uses_is_checked(project: Path) -> None:
    metrics = project / "metrics" / "shop.yml"
    metrics.write_text(metrics.read_text() + "  - name: unused\n    source: sessions\n"
                       "    value: duraton_s\n    window: [0d, 7d]\n")
    result = runner.invoke(app, ["validate", "-p", str(project)])
    assert result.exit_code == 2, result.output
    assert "column `duraton_s` is not in `sessions`" in result.output


def test_spec_errors_are_reported_when_the_warehouse_is_missing(project: Path) -> None:
    (project / "warehouse.duckdb").unlink()
    _edit(project / "experiments" / "exp.yml", "primary: [revenue]", "primary: [revnue]")
    result = runner.invoke(app, ["validate", "-p", str(project)])
    assert result.exit_code == 2, result.output
    assert "unknown metric `revnue`" in result.output
    assert "tables and columns not checked" in result.output
    assert not (project / "warehouse.duckdb").exists()


class CountingWarehouse(DuckDBWarehouse):
    """The real DuckDB warehouse, counting catalogue look-ups."""

    looked_up: list[str]

    def columns(self, table: str) -> list[str] | None:
        self.looked_up.append(table)
        return super().columns(table)


def test_each_table_is_looked_up_once(project: Path) -> None:
    experiment = project / "experiments" / "exp.yml"
    for copy in ("exp2.yml", "exp3.yml"):
        (project / "experiments" / copy).write_text(experiment.read_text())
    wh = CountingWarehouse(project / "warehouse.duckdb", read_only=True)
    wh.looked_up = []
    try:
        assert catalogue_issues(load_project(project), wh) == []
    finally:
        wh.close()
    assert sorted(wh.looked_up) == ["exposures", "orders", "sessions"]
