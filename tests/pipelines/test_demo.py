"""`assay demo --pipelines`: two real configurations measured here, gated, analysed, decided."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.pipelines.demo import run_demo
from assay.warehouse.duckdb import DuckDBWarehouse

runner = CliRunner()


def test_the_demo_reports_what_the_runs_measured(tmp_path: Path) -> None:
    demo = run_demo(tmp_path / "demo", batches=60, rows=500)
    wh = DuckDBWarehouse(str(demo.warehouse))
    try:
        runs = wh.execute("SELECT variant, duration_s, rows_out, bytes FROM pipeline_runs "
                          "WHERE phase = 'end' AND status = 'success'").to_pandas()
        outputs = {v: wh.execute(f"SELECT COUNT(*) AS n FROM orders_out_{v}").to_pylist()[0]["n"]
                   for v in ("json", "parquet")}
    finally:
        wh.close()
    assert len(runs) == 60 and set(runs["variant"]) == {"json", "parquet"}
    by_metric = {r.metric: r for r in demo.result.results}
    for arm, mean in (("json", "mean_control"), ("parquet", "mean_treatment")):
        measured = runs[runs["variant"] == arm]
        assert getattr(by_metric["mean_duration"], mean) == pytest.approx(
            measured["duration_s"].mean())
        assert getattr(by_metric["throughput"], mean) == pytest.approx(
            measured["rows_out"].sum() / measured["duration_s"].sum())
        assert outputs[arm] == measured["rows_out"].sum() == 500 * len(measured)
    sizes = runs.groupby("variant")["bytes"].mean()
    assert sizes["parquet"] < sizes["json"]  # real files: Parquet is the compact one
    assert np.all(runs["duration_s"] > 0)
    gates = [c for c in demo.result.checks if c.name.startswith("gate:")]
    assert len(gates) == 14 and all(c.status == "pass" for c in gates)
    watched = {c.name for c in demo.result.checks if c.name.startswith("anomalies:")}
    assert watched == {"anomalies:duration_s:json", "anomalies:duration_s:parquet"}
    text = demo.decision_file.read_text()
    assert text.startswith(f"# Orders ingest: JSON vs Parquet: {demo.decision.verdict}")
    assert "| throughput | higher |" in text


def test_assay_demo_pipelines_then_assay_monitor(tmp_path: Path) -> None:
    out = tmp_path / "pipelines"
    done = runner.invoke(app, ["demo", "--pipelines", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "decision:" in done.output and "gates: 14 of 14 passed" in done.output
    assert (out / "pipeline_decision.md").is_file()
    project = tmp_path / "project"
    project.mkdir()
    (project / "assay_project.yml").write_text(
        f"name: watch\nwarehouse: duckdb:///{out / 'pipelines.duckdb'}\n")
    watched = runner.invoke(app, ["monitor", "--project", str(project), "--table",
                                  "pipeline_runs", "--where", "phase = 'end'", "--by",
                                  "variant", "--grain", "hour", "--format", "json"])
    assert watched.exit_code == 0, watched.output
    series = json.loads(watched.output)["series"]
    assert set(series) == {"json", "parquet"}
    assert all(entry["points"] >= 1 for entry in series.values())


def test_monitor_reads_a_csv_and_fails_on_anomalies_when_asked(tmp_path: Path) -> None:
    values = list(np.random.default_rng(2).normal(100, 1, 60))
    values[45] = 140
    path = tmp_path / "latency.csv"
    path.write_text("value\n" + "\n".join(f"{v:.3f}" for v in values) + "\n")
    done = runner.invoke(app, ["monitor", "--csv", str(path), "--fail-on-anomaly"])
    assert done.exit_code == 1 and "robust_z" in done.output
    bad = runner.invoke(app, ["monitor", "--csv", str(path), "--column", "p95"])
    assert bad.exit_code != 0 and "no column `p95`" in bad.output
    neither = runner.invoke(app, ["monitor"])
    assert neither.exit_code != 0 and "exactly one of" in neither.output
