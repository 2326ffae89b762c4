"""The pipeline analysis is assay's analysis: checked against statsmodels on the run rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from pipeline_helpers import T0, format_experiment

from assay.pipelines import (
    JournalRunSink,
    PipelineExperiment,
    PipelineRecorder,
    Switchback,
    analyze_pipeline,
    pipeline_decision,
)
from assay.pipelines.calibration import ar1_series
from assay.warehouse import connect


def _record(setup: PipelineExperiment, journal: Path, url: str, n: int, *,
            effect: float, fail_share: float = 0.05, seed: int = 5) -> None:
    rng = np.random.default_rng(seed)
    noise = ar1_series(rng, 1, n, 0.8)[0]
    with PipelineRecorder([setup], JournalRunSink(journal, lambda: connect(url))) as recorder:
        for i in range(n):
            at = T0 + dt.timedelta(minutes=5 * i)
            run = recorder.run(setup.pipeline, unit=f"batch-{i}", at=at)
            seconds = 20 + 2 * noise[i] - (effect if run.variant == "parquet" else 0)
            run.rows_in = run.rows_out = int(rng.integers(5_000, 15_000))
            run.watermark = at - dt.timedelta(seconds=int(rng.integers(0, 600)))
            if rng.random() < fail_share:
                run.fail("simulated failure")
            run.end(ended=at + dt.timedelta(seconds=float(seconds)))


def _runs(url: str) -> pd.DataFrame:
    wh = connect(url)
    try:
        return wh.execute("SELECT * FROM pipeline_runs WHERE phase = 'end'").to_pandas()
    finally:
        wh.close()


def _clustered_se(runs: pd.DataFrame, value: pd.Series, arm: str,
                  units: int) -> tuple[float, float]:
    """Mean of ``value`` in ``arm`` and its cluster-robust variance, clusters = units.

    statsmodels' CR0 sandwich without small-sample correction, times G / (G - 1): the delta
    method's sample covariances use ddof=1 over the arm's G units (those with no kept run
    included: they add nothing to the sandwich but count in G).
    """
    mask = runs["variant"] == arm
    y = value[mask].to_numpy(dtype=float)
    groups = pd.factorize(runs.loc[mask, "unit_id"])[0]
    fit = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster", cov_kwds={
        "groups": groups, "use_correction": False})
    g = units
    return float(fit.params[0]), float(fit.cov_params()[0, 0]) * g / (g - 1)


def _check_against_oracle(result: object, runs: pd.DataFrame, metric: str,
                          value: pd.Series, keep: pd.Series) -> None:
    row = next(r for r in result.results if r.metric == metric)  # type: ignore[attr-defined]
    kept = runs[keep]
    (mc, vc), (mt, vt) = (
        _clustered_se(kept, value[keep], arm, runs.loc[runs["variant"] == arm, "unit_id"].nunique())
        for arm in ("json", "parquet"))
    assert row.mean_control == pytest.approx(mc, rel=1e-9)
    assert row.mean_treatment == pytest.approx(mt, rel=1e-9)
    assert row.diff_se == pytest.approx(np.sqrt(vc + vt), rel=1e-6)


def test_per_run_kpis_match_statsmodels(setup: PipelineExperiment, tmp_path: Path,
                                        wh_url: str) -> None:
    _record(setup, tmp_path / "j", wh_url, 300, effect=3.0)
    wh = connect(wh_url)
    try:
        result = analyze_pipeline(wh, setup)
    finally:
        wh.close()
    runs = _runs(wh_url)
    ok = runs["status"] == "success"
    _check_against_oracle(result, runs, "mean_duration", runs["duration_s"], ok)
    _check_against_oracle(result, runs, "error_rate", (runs["status"] == "failed").astype(float),
                          runs["status"].notna())
    # throughput = sum rows / sum seconds: a ratio, so its oracle is the delta method by hand
    for row in (r for r in result.results if r.metric == "throughput"):
        arm = runs[ok & (runs["variant"] == "parquet")]
        assert row.mean_treatment == pytest.approx(arm["rows_out"].sum() / arm["duration_s"].sum())
    by_name = {r.metric: r for r in result.results}
    assert by_name["mean_duration"].higher_is_better is False
    assert by_name["mean_duration"].significant and by_name["mean_duration"].diff < 0
    assert next(c for c in result.checks if c.name == "pipeline_design").figures[
        "design"] == "per_run"


def test_switchback_analyses_blocks_as_clusters(tmp_path: Path, wh_url: str) -> None:
    design = Switchback(block=dt.timedelta(hours=1), washout=dt.timedelta(minutes=10))
    setup = PipelineExperiment("ingest_orders", format_experiment(), design)
    _record(setup, tmp_path / "j", wh_url, 12 * 80, effect=0.0)
    wh = connect(wh_url)
    try:
        result = analyze_pipeline(wh, setup)
    finally:
        wh.close()
    runs = _runs(wh_url)
    assert runs["unit_id"].nunique() == 80
    keep = (runs["status"] == "success") & runs["analysed"]
    _check_against_oracle(result, runs, "mean_duration", runs["duration_s"], keep)
    check = next(c for c in result.checks if c.name == "pipeline_design")
    assert "clusters" in check.message
    p95 = next(r for r in result.results if r.metric == "latency_p95")
    for arm, mean in (("json", "mean_control"), ("parquet", "mean_treatment")):
        durations = runs.loc[keep & (runs["variant"] == arm), "duration_s"]
        assert getattr(p95, mean) == pytest.approx(
            np.quantile(durations, 0.95, method="inverted_cdf"))
    assert "clusters" in p95.method and p95.higher_is_better is False
    assert check.figures["washout_runs"] == int((~runs["analysed"]).sum()) == 2 * 80
    assert pipeline_decision(result).verdict in ("inconclusive", "ship", "do not ship")


def test_a_run_that_never_ends_is_counted(setup: PipelineExperiment, tmp_path: Path,
                                          wh_url: str) -> None:
    sink = JournalRunSink(tmp_path / "j", lambda: connect(wh_url))
    with PipelineRecorder([setup], sink) as recorder:
        for i in range(40):
            run = recorder.run("ingest_orders", unit=f"b{i}", at=T0)
            run.rows_out = 10
            if i % 10:  # every tenth run crashes before its end record
                run.end(ended=T0 + dt.timedelta(seconds=30))
        crashed = {recorder.variant("ingest_orders", f"b{i}") for i in range(0, 40, 10)}
    wh = connect(wh_url)
    try:
        result = analyze_pipeline(wh, setup)
    finally:
        wh.close()
    check = next(c for c in result.checks if c.name == "unfinished_runs")
    assert check.status == "warn" and sum(check.figures["unfinished"].values()) == 4
    rates = {r.metric: r for r in result.results}["unfinished_rate"]
    assert rates.mean_control > 0 or rates.mean_treatment > 0
    assert crashed <= {"json", "parquet"}
