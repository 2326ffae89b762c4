"""A/A replay on the demo's A/A period: calibrated for a per-unit split, inflated for a clustered
one; its splits are assay's hash, checked against the Python hash on the same units."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from assay.analysis.replay import aa_replay
from assay.assign.hashing import bucket
from assay.cli import app
from assay.demo import build_demo
from assay.metrics.replay import compile_replay
from assay.spec import load_project
from assay.stats.moments import N_COLUMN

START, END = dt.datetime(2026, 2, 23), dt.datetime(2026, 3, 9)  # homepage_aa's dates


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("replay")
    build_demo(out, users=6000)
    return out


def test_splits_are_assays_hash_of_the_period_units(project_dir: Path) -> None:
    project = load_project(project_dir)
    query, plan = compile_replay(project, "revenue", START, END, 3)
    wh = project.warehouse()
    try:
        rows = wh.execute(query.sql(dialect="duckdb")).to_pylist()
        units = [r["unit_id"] for r in wh.execute(
            "select distinct unit_id from exposures where timestamp >= '2026-02-23' "
            "and timestamp < '2026-03-09' and unit_id is not null").to_pylist()]
    finally:
        wh.close()
    n = plan.metrics[0].prefix + N_COLUMN
    for k in range(3):
        control = sum(bucket(f"aa-replay:{k}", u) < 5000 for u in units)
        got = {r["variant"]: r[n] for r in rows if r["k"] == k}
        assert got == {"control": control, "treatment": len(units) - control}


def test_the_cli_reports_a_rate_and_its_verdict(project_dir: Path) -> None:
    result = CliRunner().invoke(app, ["aa-replay", "revenue", "--period", "2026-02-23+14d",
                                      "-n", "40", "-p", str(project_dir), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["splits"] == 40 and len(data["p_values"]) == 40
    assert data["check"]["name"] == "aa_replay" and data["check"]["status"] in ("pass", "warn",
                                                                                  "fail")
    bad = CliRunner().invoke(app, ["aa-replay", "revenue", "--period", "soon", "-p",
                                   str(project_dir)])
    assert bad.exit_code != 0 and "expected START:END" in bad.output


@pytest.mark.slow
def test_per_unit_splits_are_calibrated_and_clustered_ones_inflated(project_dir: Path) -> None:
    project = load_project(project_dir)
    fair = aa_replay(project, "revenue", START, END, splits=400)
    assert fair.check.status == "pass", fair.check.message
    assert fair.check.message.endswith("within simulation error of 5%")
    p = np.array(fair.p_values)
    assert abs(np.mean(p < 0.05) - 0.05) < 3 * np.sqrt(0.05 * 0.95 / 400)
    # Baskets differ by country and platform: an experiment randomised by those clusters but
    # analysed per user calls far too many differences significant.
    clustered = aa_replay(project, "revenue", START, END, splits=400,
                          cluster="country || platform")
    assert (clustered.check.status, clustered.check.code) == ("fail", "inflated")
    assert clustered.check.figures["rate"] > 0.1
    assert "with units hashed by country || platform were significant" in \
        clustered.check.message
    # ... while a metric that does not depend on them stays calibrated under the same clusters
    orders = aa_replay(project, "orders", START, END, splits=400,
                       cluster="country || platform")
    assert orders.check.status == "pass", orders.check.message
