"""Funnel, retention and daily participation through DuckDB, PostgreSQL and Spark.

The reference recomputes each unit's value with pandas from the same rows
(:mod:`tests.metrics.activity_data`) and tests it with statsmodels and scipy; the step-to-step
ratio's variance by linearisation (``num - R den``), not by the engine's moments formula.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest
from tests.metrics.activity_data import (
    METRICS,
    build_tables,
    oracle_funnel,
    oracle_participation,
    oracle_retention,
    write_project,
)

from assay.analysis import AnalysisResult, analyze
from assay.results import MetricResult
from assay.spec import load_project
from assay.warehouse.base import Warehouse

STEPS = ("view", "cart", "purchase")
TABLES = build_tables()


@pytest.fixture
def result(warehouse: Warehouse, tmp_path: Path) -> AnalysisResult:
    for name, table in TABLES.items():
        warehouse.write_table(name, table, mode="replace")
    return analyze(load_project(write_project(tmp_path)), "exp", warehouse=warehouse)


def _by_name(result: AnalysisResult) -> dict[str, MetricResult]:
    return {r.metric: r for r in result.results}


def _arms(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    c = frame.loc[frame.variant == "control", column].to_numpy(float)
    t = frame.loc[frame.variant == "treatment", column].to_numpy(float)
    return c, t


def _check_proportion(r: MetricResult, c: np.ndarray, t: np.ndarray) -> None:
    assert (r.n_control, r.n_treatment) == (len(c), len(t))
    assert (r.mean_control, r.mean_treatment) == pytest.approx((c.mean(), t.mean()), rel=1e-12)
    _, p = proportions_ztest([t.sum(), c.sum()], [len(t), len(c)])
    assert r.p_value == pytest.approx(p, rel=1e-9)


def test_funnel_step_conversions_match_statsmodels(result: AnalysisResult) -> None:
    funnel = oracle_funnel(TABLES, STEPS)
    found = _by_name(result)
    for step in STEPS:
        r = found[f"checkout.{step}"]
        assert r.kind == "funnel" and r.role == "primary"
        _check_proportion(r, *_arms(funnel, step))
    # ordered: no unit reaches a step without the one before it
    assert (funnel.cart <= funnel.view).all() and (funnel.purchase <= funnel.cart).all()


def _ratio_reference(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Ratio of sums and its variance by linearisation: Var(mean(num - R den)) / mean(den)^2."""
    r = num.sum() / den.sum()
    return r, np.var(num - r * den, ddof=1) / (len(num) * den.mean() ** 2)


def test_funnel_step_ratios_match_the_linearised_delta_method(result: AnalysisResult) -> None:
    funnel = oracle_funnel(TABLES, STEPS)
    found = _by_name(result)
    for before, after in itertools.pairwise(STEPS):
        r = found[f"checkout.{before}_to_{after}"]
        (nc, nt), (dc, dt) = _arms(funnel, after), _arms(funnel, before)
        rc, vc = _ratio_reference(nc, dc)
        rt, vt = _ratio_reference(nt, dt)
        assert (r.mean_control, r.mean_treatment) == pytest.approx((rc, rt), rel=1e-12)
        z = (rt - rc) / math.sqrt(vc + vt)
        assert r.diff_se == pytest.approx(math.sqrt(vc + vt), rel=1e-9)
        assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
        assert "delta method" in r.method


def test_funnel_comparisons_are_one_family_with_the_others(result: AnalysisResult) -> None:
    names = [r.metric for r in result.results]
    assert names == ["checkout.view", "checkout.cart", "checkout.purchase",
                     "checkout.view_to_cart", "checkout.cart_to_purchase",
                     "returned", "active_days"]
    p = sorted(r.p_value for r in result.results)
    holm = np.maximum.accumulate([min(1.0, (len(p) - i) * v) for i, v in enumerate(p)])
    adjusted = sorted(r.p_value_adjusted for r in result.results)
    assert adjusted == pytest.approx(list(holm), rel=1e-12)


def test_retention_leaves_out_cut_windows_and_the_exposure_itself(
    result: AnalysisResult,
) -> None:
    frame = oracle_retention(TABLES, 0, 5)
    r = _by_name(result)["returned"]
    assert r.kind == "retention"
    c, t = _arms(frame, "y")
    assert len(c) + len(t) < TABLES["exposures"].num_rows  # some windows are not over
    _check_proportion(r, c, t)


def test_participation_matches_welch_on_observed_day_shares(result: AnalysisResult) -> None:
    frame = oracle_participation(TABLES, 0, 6)
    r = _by_name(result)["active_days"]
    assert r.kind == "participation"
    c, t = _arms(frame, "y")
    assert ((frame.y * 6) % 1 > 1e-9).any()  # late units have fewer than 6 observed days
    assert (r.n_control, r.n_treatment) == (len(c), len(t))
    assert (r.mean_control, r.mean_treatment) == pytest.approx((c.mean(), t.mean()), rel=1e-12)
    assert r.p_value == pytest.approx(stats.ttest_ind(t, c, equal_var=False).pvalue, rel=1e-9)


@pytest.fixture
def segmented(warehouse: Warehouse, tmp_path: Path) -> AnalysisResult:
    for name, table in TABLES.items():
        warehouse.write_table(name, table, mode="replace")
    project = load_project(write_project(tmp_path, segments=True))
    return analyze(project, "exp", warehouse=warehouse)


def test_activity_kinds_by_segment_match_the_reference(segmented: AnalysisResult) -> None:
    platform = TABLES["exposures"].to_pandas().set_index("unit_id").platform
    funnel = oracle_funnel(TABLES, STEPS)
    retention = oracle_retention(TABLES, 0, 5)
    participation = oracle_participation(TABLES, 0, 6)
    cells = {(r.metric, r.segment_value): r for r in segmented.segments}
    for value in ("ios", "web"):
        assert cells[("checkout.cart", value)].segment == "platform"
        _check_proportion(cells[("checkout.cart", value)],
                          *_arms(funnel[platform[funnel.index] == value], "cart"))
        _check_proportion(cells[("returned", value)],
                          *_arms(retention[platform[retention.index] == value], "y"))
        c, t = _arms(participation[platform[participation.index] == value], "y")
        r = cells[("active_days", value)]
        assert (r.mean_control, r.mean_treatment) == pytest.approx((c.mean(), t.mean()),
                                                                   rel=1e-12)
        ratio = cells[("checkout.view_to_cart", value)]
        assert ratio.n_control + ratio.n_treatment == (platform == value).sum()
    # the overall results are those of the unsegmented analysis
    assert [r.metric for r in segmented.results][:2] == ["checkout.view", "checkout.cart"]


def test_a_funnel_can_take_each_step_from_its_own_source(warehouse: Warehouse,
                                                         tmp_path: Path) -> None:
    """Purchases from an `orders` table after views and carts from `events`: the same units
    reach the same steps as with one source."""
    events = TABLES["events"]
    bought = pc.equal(events.column("event"), "purchase")
    warehouse.write_table("exposures", TABLES["exposures"], mode="replace")
    warehouse.write_table("events", events.filter(pc.invert(bought)), mode="replace")
    warehouse.write_table("orders", events.filter(bought).drop_columns(["event"])
                          .rename_columns(["user", "created_at"]), mode="replace")
    metrics = METRICS.replace("- {name: purchase, filter: \"event = 'purchase'\"}",
                              "- {name: purchase, source: orders}")
    root = write_project(tmp_path, metrics)
    (root / "assay_project.yml").write_text(
        (root / "assay_project.yml").read_text(encoding="utf-8")
        + "  orders: {table: orders, unit: user, timestamp: created_at}\n", encoding="utf-8")
    result = analyze(load_project(root), "exp", warehouse=warehouse)
    funnel = oracle_funnel(TABLES, STEPS)
    found = _by_name(result)
    _check_proportion(found["checkout.purchase"], *_arms(funnel, "purchase"))
    rc = _arms(funnel, "purchase")[0].sum() / _arms(funnel, "cart")[0].sum()
    assert found["checkout.cart_to_purchase"].mean_control == pytest.approx(rc, rel=1e-12)
