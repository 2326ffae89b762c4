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


def test_the_quantile_and_activity_statements_are_printed_as_they_run(tmp_path: Path) -> None:
    from tests.metrics.activity_data import METRICS, build_tables, write_project

    quantile = """\
  - name: p90_gap
    kind: quantile
    quantile: 0.9
    quantile_of: event
    source: events
    value: EXTRACT(HOUR FROM ts)
    window: [0d, 7d]
"""
    root = write_project(tmp_path / "activity", METRICS + quantile, segments=True)
    spec = root / "experiments" / "exp.yml"
    spec.write_text(spec.read_text().replace("[returned, active_days]",
                                             "[returned, active_days, p90_gap]"))
    wh = DuckDBWarehouse(root / "warehouse.duckdb")
    for name, table in build_tables().items():
        wh.write_table(name, table, mode="replace")
    wh.close()
    printed = runner.invoke(app, ["sql", "exp", "-p", str(root)])
    assert printed.exit_code == 0, printed.output
    ran = analyze(root, "exp").sql
    names = ["funnel:checkout", "retention:returned", "participation:active_days",
             "quantiles:p90_gap", "quantiles:p90_gap:platform"]
    assert set(names) <= set(ran)
    for name in [k for k in ran if not k.startswith("check:")]:  # every statement it ran
        assert _statement(printed.output, name) == ran[name], name


def test_the_rank_and_bootstrap_statements_are_printed_as_they_run(tmp_path: Path) -> None:
    from tests.analysis.shop import build_shop
    from tests.analysis.shop import write_project as write_shop

    root = write_shop(tmp_path / "shop", build_shop(n_units=600))
    printed = runner.invoke(app, ["sql", "exp", "-p", str(root)])
    assert printed.exit_code == 0, printed.output
    ran = analyze(root, "exp").sql
    assert {"rank_sums:orders", "bootstrap:revenue", "bootstrap:aov"} <= set(ran)
    for name in [k for k in ran if not k.startswith("check:")]:
        assert _statement(printed.output, name) == ran[name], name
