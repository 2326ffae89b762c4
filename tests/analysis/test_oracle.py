"""The analysis agrees with scipy/statsmodels run on unit-level data pulled independently.

Tolerance 1e-9 relative: same formulas, different code paths (SQL sufficient statistics vs.
pandas unit rows).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from assay.analysis import AnalysisResult, MetricResult

REL = 1e-9


def _get(result: AnalysisResult, metric: str) -> MetricResult:
    return next(r for r in result.results if r.metric == metric)


def _arms(units, column):  # type: ignore[no-untyped-def]
    c = units.loc[units.variant == "control", column].to_numpy(dtype=float)
    t = units.loc[units.variant == "treatment", column].to_numpy(dtype=float)
    return c, t


def _welch(c: np.ndarray, t: np.ndarray):  # type: ignore[no-untyped-def]
    test = stats.ttest_ind(t, c, equal_var=False)
    return test.pvalue, tuple(test.confidence_interval(0.95))


def test_units_and_arms_match_independent_dedup(result: AnalysisResult, units) -> None:  # type: ignore[no-untyped-def]
    counts = units.variant.value_counts()
    assert {a.variant: a.units for a in result.arms} == {
        "control": counts["control"],
        "treatment": counts["treatment"],
    }


def test_welch_with_cuped_matches_scipy_on_adjusted_unit_values(result, units) -> None:  # type: ignore[no-untyped-def]
    y, x = units.revenue.to_numpy(), units.revenue_pre.to_numpy()
    theta = np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1)
    units = units.assign(adj=y - theta * (x - x.mean()))
    c, t = _arms(units, "adj")
    p, ci = _welch(c, t)
    r = _get(result, "revenue")
    assert r.diff == pytest.approx(t.mean() - c.mean(), rel=REL)
    assert r.p_value == pytest.approx(p, rel=REL)
    assert r.diff_ci == pytest.approx(ci, rel=REL)
    raw_c, raw_t = _arms(units, "revenue")
    assert (r.mean_control, r.mean_treatment) == pytest.approx(
        (raw_c.mean(), raw_t.mean()), rel=REL
    )
    assert r.n_control == len(c) and r.n_treatment == len(t)
    # relative lift: delta method on the adjusted means (Deng et al. 2018)
    vc, vt = c.var(ddof=1) / len(c), t.var(ddof=1) / len(t)
    se = np.sqrt(vt / c.mean() ** 2 + t.mean() ** 2 * vc / c.mean() ** 4)
    assert r.rel_lift == pytest.approx(t.mean() / c.mean() - 1, rel=REL)
    # the interval uses the same Welch-Satterthwaite t quantile as the difference
    df = (vc + vt) ** 2 / (vc**2 / (len(c) - 1) + vt**2 / (len(t) - 1))
    lo, hi = r.rel_lift_ci
    assert (hi - lo) / 2 == pytest.approx(stats.t.ppf(0.975, df) * se, rel=REL)
    raw_var = raw_c.var(ddof=1) / len(raw_c) + raw_t.var(ddof=1) / len(raw_t)
    assert r.cuped_variance_reduction == pytest.approx(1 - (vc + vt) / raw_var, rel=REL)


def test_count_metric_with_cuped(result, units) -> None:  # type: ignore[no-untyped-def]
    y, x = units.orders.to_numpy(), units.orders_pre.to_numpy()
    theta = np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1)
    c, t = _arms(units.assign(adj=y - theta * (x - x.mean())), "adj")
    p, ci = _welch(c, t)
    r = _get(result, "orders")
    assert r.p_value == pytest.approx(p, rel=REL)
    assert r.diff_ci == pytest.approx(ci, rel=REL)


def test_proportion_matches_statsmodels(result, units) -> None:  # type: ignore[no-untyped-def]
    c, t = _arms(units, "conversion")
    _, p = proportions_ztest([t.sum(), c.sum()], [len(t), len(c)])
    low, high = confint_proportions_2indep(t.sum(), len(t), c.sum(), len(c), method="wald")
    r = _get(result, "conversion")
    assert r.p_value == pytest.approx(p, rel=REL)
    assert r.diff_ci == pytest.approx((low, high), rel=REL)
    assert r.diff == pytest.approx(t.mean() - c.mean(), rel=REL)


def test_winsorized_mean_matches_numpy_percentile_capping(result, units) -> None:  # type: ignore[no-untyped-def]
    c, t = _arms(units, "revenue_capped")
    p, ci = _welch(c, t)
    r = _get(result, "revenue_capped")
    assert r.p_value == pytest.approx(p, rel=REL)
    assert r.diff_ci == pytest.approx(ci, rel=REL)


def test_avg_metric_leaves_out_units_without_events(result, units) -> None:  # type: ignore[no-untyped-def]
    present = units.dropna(subset=["session_length"])
    c, t = _arms(present, "session_length")
    p, ci = _welch(c, t)
    r = _get(result, "session_length")
    assert (r.n_control, r.n_treatment) == (len(c), len(t))
    assert r.p_value == pytest.approx(p, rel=REL)
    assert r.diff_ci == pytest.approx(ci, rel=REL)


def test_ratio_delta_method_with_cuped_matches_linearisation(result, units) -> None:  # type: ignore[no-untyped-def]
    """CUPED on the linearised ratio (Deng et al. 2018, sec. 4): an independent computation."""
    num, den = units.revenue.to_numpy(), units.orders.to_numpy()
    num_pre, den_pre = units.revenue_pre.to_numpy(), units.orders_pre.to_numpy()
    arms = {v: (units.variant == v).to_numpy() for v in ("control", "treatment")}
    lin: dict[str, np.ndarray] = {}
    lin_pre: dict[str, np.ndarray] = {}
    est: dict[str, float] = {}
    for v, mask in arms.items():
        mn, md = num[mask].mean(), den[mask].mean()
        pn, pd_ = num_pre[mask].mean(), den_pre[mask].mean()
        est[v] = mn / md
        lin[v] = num[mask] / md - mn * den[mask] / md**2  # influence function of the ratio
        lin_pre[v] = num_pre[mask] / pd_ - pn * den_pre[mask] / pd_**2
    all_y, all_x = np.concatenate(list(lin.values())), np.concatenate(list(lin_pre.values()))
    theta = np.cov(all_y, all_x, ddof=1)[0, 1] / np.var(all_x, ddof=1)
    var = {v: np.var(lin[v] - theta * lin_pre[v], ddof=1) / arms[v].sum() for v in arms}
    r = _get(result, "aov")
    se = np.sqrt(var["control"] + var["treatment"])
    assert r.diff_se == pytest.approx(se, rel=REL)
    assert (r.mean_control, r.mean_treatment) == pytest.approx(
        (est["control"], est["treatment"]), rel=REL
    )


def test_holm_over_metric_variant_family_matches_statsmodels(result: AnalysisResult) -> None:
    pvalues = [r.p_value for r in result.results]
    _, adjusted, _, _ = multipletests(pvalues, method="holm")
    assert [r.p_value_adjusted for r in result.results] == pytest.approx(list(adjusted), rel=REL)
    for r in result.results:
        assert r.significant == (r.p_value_adjusted < 0.05)


def test_null_values_are_ignored_and_counted(result: AnalysisResult, units) -> None:  # type: ignore[no-untyped-def]
    assert _get(result, "revenue").null_values == int(units.null_revenue_events.sum())
    check = next(c for c in result.checks if c.name == "null_values")
    assert check.status == "warn" and "revenue" in check.message


def test_segments_match_per_platform_recomputation(segmented_result: AnalysisResult, units) -> None:  # type: ignore[no-untyped-def]
    result = segmented_result
    for platform in ("ios", "android", "web"):
        sub = units[units.platform == platform]
        c, t = _arms(sub, "conversion")
        _, p = proportions_ztest([t.sum(), c.sum()], [len(t), len(c)])
        r = next(
            s
            for s in result.segments
            if s.metric == "conversion" and s.segment == "platform" and s.segment_value == platform
        )
        assert r.p_value == pytest.approx(p, rel=REL)
        assert (r.n_control, r.n_treatment) == (len(c), len(t))


@pytest.mark.parametrize("metric", ["orders", "session_length"])
def test_mann_whitney_from_warehouse_rank_sums_matches_scipy(result, units, metric) -> None:  # type: ignore[no-untyped-def]
    """Integer counts (many ties: the tie correction) and continuous per-unit averages."""
    c, t = _arms(units.dropna(subset=[metric]), metric)
    expected = stats.mannwhitneyu(t, c, method="asymptotic", use_continuity=True)
    r = next(r for r in result.rank_tests if r.metric == metric)
    assert (r.n_control, r.n_treatment) == (len(c), len(t))
    assert r.u == pytest.approx(expected.statistic, rel=REL)
    assert r.p_value == pytest.approx(expected.pvalue, rel=REL)


def test_mann_whitney_on_float_sums_agrees_up_to_a_tie(result, units) -> None:  # type: ignore[no-untyped-def]
    """Per-unit sums of floats: the warehouse and pandas add in different orders, so a pair of
    units tied on one side can differ in the last bit on the other, moving U by half a rank.
    The statistic may differ by at most that; everything else is exact."""
    c, t = _arms(units, "revenue")
    expected = stats.mannwhitneyu(t, c, method="asymptotic", use_continuity=True)
    r = next(r for r in result.rank_tests if r.metric == "revenue")
    assert (r.n_control, r.n_treatment) == (len(c), len(t))
    assert abs(r.u - expected.statistic) <= 1.0
    sd = np.sqrt(len(c) * len(t) * (len(c) + len(t) + 1) / 12)
    assert abs(r.p_value - expected.pvalue) <= 2 * stats.norm.pdf(0) / sd  # |dp/dU| bound
