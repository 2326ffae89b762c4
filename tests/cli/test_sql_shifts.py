"""`assay sql` prints what `assay analyze` runs, the probes' centring constants included."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.metrics.test_stable_moments import _project, _tables
from typer.testing import CliRunner

from assay.analysis import analyze
from assay.cli import app
from assay.warehouse.duckdb import DuckDBWarehouse

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = _project(tmp_path / "offset")
    wh = DuckDBWarehouse(root / "warehouse.duckdb")
    for name, table in _tables().items():
        wh.write_table(name, table, mode="replace")
    wh.close()
    return root


def _statement(output: str, name: str) -> str:
    return output.split(f"-- {name}\n", 1)[1].split(";\n", 1)[0]


def test_the_printed_sql_is_the_sql_analyze_runs(project: Path) -> None:
    printed = runner.invoke(app, ["sql", "exp", "-p", str(project)])
    assert printed.exit_code == 0, printed.output
    ran = analyze(project, "exp").sql
    assert _statement(printed.output, "metrics") == ran["metrics"]
    assert _statement(printed.output, "exposures") == ran["exposures"]
    assert "c__y" in ran["metrics"]  # the offset metrics are centred ...
    header = printed.output.split("-- exposures\n", 1)[0]
    assert "the probes ran" in header and "centred on 1000000" in header  # ... and it says so


def test_offline_the_header_says_the_moments_are_uncentred(project: Path) -> None:
    printed = runner.invoke(app, ["sql", "exp", "-p", str(project), "--offline"])
    assert printed.exit_code == 0, printed.output
    assert printed.output.startswith("-- offline: moments uncentred")
    assert "c__" not in _statement(printed.output, "metrics")


def test_an_unreachable_warehouse_still_prints_and_says_why(project: Path) -> None:
    spec = project / "assay_project.yml"
    spec.write_text(spec.read_text() + "warehouse: duckdb:///missing/nowhere.duckdb\n")
    printed = runner.invoke(app, ["sql", "exp", "-p", str(project)])
    assert printed.exit_code == 0, printed.output
    assert printed.output.startswith("-- the warehouse could not be probed (")
    assert "-- metrics\n" in printed.output


def test_another_dialect_gets_the_warehouse_constants(project: Path) -> None:
    printed = runner.invoke(app, ["sql", "exp", "-p", str(project), "--dialect", "bigquery"])
    assert printed.exit_code == 0, printed.output
    assert "`m1__c__y`" in _statement(printed.output, "metrics")
