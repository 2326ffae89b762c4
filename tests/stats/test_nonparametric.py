"""Mann-Whitney from rank sums against scipy; Poisson bootstrap mechanics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from assay.stats.codes import ErrorCode
from assay.stats.nonparametric import (
    POISSON1_CDF,
    Replicates,
    mann_whitney,
    poisson_bootstrap,
    poisson_weights,
)


def _rank_stats(c: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    pooled = np.concatenate([c, t])
    ranks = sps.rankdata(pooled)  # mid-ranks, like SQL's average rank
    _, counts = np.unique(pooled, return_counts=True)
    return float(ranks[c.size:].sum()), float(np.sum(counts**3 - counts))


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize("continuity", [True, False])
@pytest.mark.parametrize("ties", [True, False])
def test_matches_scipy(alternative: str, continuity: bool, ties: bool) -> None:
    rng = np.random.default_rng(3)
    if ties:
        c, t = rng.poisson(3, 300).astype(float), rng.poisson(3.3, 250).astype(float)
    else:
        c, t = rng.exponential(1.0, 300), rng.exponential(1.15, 250)
    rank_sum, tie = _rank_stats(c, t)
    res = mann_whitney(c.size, t.size, rank_sum, tie, alternative=alternative,  # type: ignore[arg-type]
                       use_continuity=continuity)
    ref = sps.mannwhitneyu(t, c, alternative=alternative, method="asymptotic",
                           use_continuity=continuity)
    assert res.u == pytest.approx(ref.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_auc_is_probability_of_superiority() -> None:
    c, t = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0])
    rank_sum, tie = _rank_stats(c, t)
    res = mann_whitney(3, 2, rank_sum, tie)
    pairs = [(1.0 if a > b else 0.5 if a == b else 0.0) for a in t for b in c]
    assert res.auc == pytest.approx(np.mean(pairs), rel=1e-12)


def test_codes() -> None:
    assert mann_whitney(0, 5, 15.0).error is ErrorCode.ZERO_UNITS
    # Every value tied: tie term = N^3 - N makes the variance zero.
    assert mann_whitney(3, 3, 10.5, 6**3 - 6).error is ErrorCode.ZERO_VARIANCE


def test_poisson_weights_have_poisson_distribution() -> None:
    u = (np.arange(200_000) + 0.5) / 200_000  # a perfectly uniform hash
    w = poisson_weights(u)
    for k in range(6):
        assert np.mean(w == k) == pytest.approx(sps.poisson.pmf(k, 1.0), abs=1e-5)
    assert POISSON1_CDF[0] == pytest.approx(math.exp(-1), rel=1e-12)


def test_bootstrap_percentile_from_replicate_sums() -> None:
    rng = np.random.default_rng(8)
    c, t = rng.exponential(1.0, 400), rng.exponential(1.2, 500)
    b = 500
    wc, wt = rng.poisson(1.0, (b, c.size)), rng.poisson(1.0, (b, t.size))
    rc = Replicates(wc @ c, wc.sum(axis=1).astype(float), float(c.sum()), float(c.size))
    rt = Replicates(wt @ t, wt.sum(axis=1).astype(float), float(t.sum()), float(t.size))
    res = poisson_bootstrap(rc, rt, alpha=0.1)
    reps = (wt @ t) / wt.sum(axis=1) - (wc @ c) / wc.sum(axis=1)
    assert res.point == pytest.approx(t.mean() - c.mean(), rel=1e-12)
    want = np.quantile(reps, [0.05, 0.95], method="weibull")
    assert res.ci == pytest.approx(tuple(want), rel=1e-12)
    assert res.se == pytest.approx(np.std(reps, ddof=1), rel=1e-12)
    # The bootstrap SE is close to the analytic Welch SE.
    se = math.sqrt(c.var(ddof=1) / c.size + t.var(ddof=1) / t.size)
    assert res.se == pytest.approx(se, rel=0.1)
    lift = poisson_bootstrap(rc, rt, statistic="rel_lift")
    assert lift.point == pytest.approx(t.mean() / c.mean() - 1, rel=1e-12)


def test_bootstrap_codes() -> None:
    empty = Replicates(np.zeros(50), np.zeros(50), 0.0, 0.0)
    ok = Replicates(np.ones(50), np.ones(50), 1.0, 1.0)
    assert poisson_bootstrap(empty, ok).error is ErrorCode.DENOMINATOR_ZERO
    few = Replicates(np.ones(5), np.ones(5), 1.0, 1.0)
    assert poisson_bootstrap(few, few).error is ErrorCode.TOO_FEW_UNITS
