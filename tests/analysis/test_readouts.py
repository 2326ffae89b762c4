"""Sequential designs and the Bayesian readout, wired into the analysis, against closed forms."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from tests.analysis.shop import Shop, write_project

from assay.analysis import AnalysisResult, analyze
from assay.store import save_result
from assay.warehouse.duckdb import DuckDBWarehouse

REL = 1e-9


def _project(tmp_path: Path, shop: Shop, extra: str) -> Path:
    root = write_project(tmp_path, shop)
    spec = root / "experiments" / "exp.yml"
    spec.write_text(spec.read_text() + extra)
    return root


def _revenue(result: AnalysisResult):  # type: ignore[no-untyped-def]
    return next(r for r in result.results if r.metric == "revenue")


def _cuped_arms(units):  # type: ignore[no-untyped-def]
    y, x = units.revenue.to_numpy(), units.revenue_pre.to_numpy()
    theta = np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1)
    adj = y - theta * (x - x.mean())
    control, treatment = (units.variant == "control").to_numpy(), (units.variant == "treatment")
    return adj[control], adj[treatment.to_numpy()]


def test_bayesian_flat_prior_is_the_normal_likelihood(tmp_path: Path, shop: Shop, units) -> None:  # type: ignore[no-untyped-def]
    r = _revenue(analyze(_project(tmp_path, shop, "bayesian: {}\n"), "exp"))
    c, t = _cuped_arms(units)
    vc, vt = c.var(ddof=1) / len(c), t.var(ddof=1) / len(t)
    lift = t.mean() / c.mean() - 1
    se = np.sqrt(vt / c.mean() ** 2 + t.mean() ** 2 * vc / c.mean() ** 4)
    assert r.prob_beat_control == pytest.approx(stats.norm.cdf(lift / se), rel=REL)
    z = stats.norm.ppf(0.975)
    assert r.credible_interval == pytest.approx((lift - z * se, lift + z * se), rel=REL)
    # expected loss of shipping: E[max(0, -L)] for L ~ N(lift, se^2)
    loss = se * stats.norm.pdf(lift / se) - lift * stats.norm.cdf(-lift / se)
    assert r.expected_loss == pytest.approx(loss, rel=1e-7)


def test_msprt_p_value_is_the_mixture_likelihood_ratio(tmp_path: Path, shop: Shop, units) -> None:  # type: ignore[no-untyped-def]
    result = analyze(_project(tmp_path, shop, "sequential: {method: msprt, mixing_lift: 0.1}\n"),
                     "exp")
    r = _revenue(result)
    c, t = _cuped_arms(units)
    v = c.var(ddof=1) / len(c) + t.var(ddof=1) / len(t)
    d = t.mean() - c.mean()
    tau2 = (0.1 * abs(c.mean())) ** 2
    # Johari et al. (2017): Lambda = sqrt(V / (V + tau^2)) exp(tau^2 d^2 / (2 V (V + tau^2)))
    lam = np.sqrt(v / (v + tau2)) * np.exp(tau2 * d**2 / (2 * v * (v + tau2)))
    assert r.sequential_p_value == pytest.approx(min(1.0, 1 / lam), rel=1e-7)
    lo, hi = r.sequential_ci
    assert lo < d < hi and (hi - lo) > (r.diff_ci[1] - r.diff_ci[0])  # wider than fixed-horizon
    for m in result.results:
        assert m.significant == (m.sequential_p_value_adjusted <= 0.05)
    assert next(c for c in result.checks if c.name == "sample_size").status == "pass"


def test_group_sequential_boundary_at_the_first_look_is_obfs_closed_form(
        tmp_path: Path, shop: Shop) -> None:
    root = _project(tmp_path, shop, "planned_sample_size: 6000\n"
                                    "sequential: {method: obf, looks: 4}\n")
    result = analyze(root, "exp")
    r = _revenue(result)
    fraction = result.units / 6000
    alpha = 0.05 / len(result.results)  # Bonferroni split under a correction
    # One look, each side spending the OBF-type function at alpha / 2 (Lan & DeMets 1983):
    # alpha'(t) = 2 (1 - Phi(z_{1 - alpha/4} / sqrt(t))), all of it spent here, so the boundary
    # is the (1 - alpha'(t)) normal quantile.
    spent = 2 * (1 - stats.norm.cdf(stats.norm.ppf(1 - alpha / 4) / np.sqrt(fraction)))
    assert r.sequential_boundary == pytest.approx(stats.norm.ppf(1 - spent), rel=1e-6)
    assert "look 1" in (r.sequential_method or "")
    assert r.significant == r.sequential_crossed


def test_group_sequential_reads_earlier_looks_from_the_results_store(
        tmp_path: Path, shop: Shop) -> None:
    from assay.stats.group_sequential import gs_boundaries

    root = _project(tmp_path, shop, "planned_sample_size: 6000\n"
                                    "sequential: {method: pocock, looks: 4}\n")
    first = analyze(root, "exp")
    earlier = dataclasses.replace(first, arms=[dataclasses.replace(a, units=a.units // 2)
                                               for a in first.arms])
    wh = DuckDBWarehouse(root / "warehouse.duckdb")
    save_result(wh, earlier)
    wh.close()
    second = _revenue(analyze(root, "exp"))
    assert "look 2" in (second.sequential_method or "")
    alpha = 0.05 / len(first.results)
    expected = gs_boundaries([earlier.units / 6000, first.units / 6000], alpha=alpha,
                             spending="pocock").z[-1]
    assert second.sequential_boundary == pytest.approx(expected, rel=REL)
