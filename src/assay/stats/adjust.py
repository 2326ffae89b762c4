"""Variance reduction beyond one covariate: regression adjustment and post-stratification.

Both are functions of per-arm (and per-stratum) moments and return adjusted
:class:`~assay.stats.estimates.ArmEstimate` values that :func:`assay.stats.tests.compare` takes
like any other, plus the variance reduction achieved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import add
from typing import Literal

import numpy as np

from assay.stats.codes import ErrorCode
from assay.stats.estimates import ArmEstimate, failed
from assay.stats.moments import FloatArray, Moments


@dataclass(frozen=True)
class RegressionResult:
    """Regression-adjusted estimates.

    Attributes:
        estimates: Adjusted estimate per arm.
        coefficients: Pooled coefficient of each covariate.
        variance_reduction: ``1 - sum_a Var(adjusted_a) / sum_a Var(unadjusted_a)``.
    """

    estimates: dict[str, ArmEstimate]
    coefficients: dict[str, float]
    variance_reduction: float


def regression_estimates(
    arms: Mapping[str, Moments],
    y: str = "y",
    covariates: Sequence[str] = ("x",),
    pooling: Literal["total", "within"] = "total",
) -> RegressionResult:
    """CUPED with several covariates (e.g. a CUPAC prediction plus pre-period metrics).

    ``beta = S_xx^+ S_xy`` (``^+``: the pseudo-inverse, so collinear or constant covariates get
    no weight) from the covariance of all units pooled across arms (``pooling="total"``, as
    CUPED's theta) or from the within-arm sums of squares and products added over arms
    (``"within"``: the slope of the OLS regression ``y ~ arm + covariates``, which the
    treatment effect cannot move). Each arm's adjusted mean is
    ``ybar_a - beta' (xbar_a - xbar_pooled)`` with variance ``g' S_a g / n_a``,
    ``g = (1, -beta)``, ``S_a`` the arm's sample covariance. It equals Welch's test on the
    unit-level residuals ``y - beta' (x - xbar_pooled)``; with ``"within"`` the difference of
    two arms is the OLS coefficient of the arm exactly. With one covariate and ``"total"`` it
    is :func:`assay.stats.estimates.cuped_estimates`.

    Args:
        arms: Moments per arm including ``y`` and every covariate.
        y: The metric.
        covariates: Pre-experiment covariates (the user's own columns).
        pooling: Where ``beta`` comes from: ``"total"`` or ``"within"`` (see above).

    Returns:
        Adjusted estimates (``df = n_a - 1``), coefficients and the variance reduction.

    References:
        Deng, A., Xu, Y., Kohavi, R., Walker, T. (2013). WSDM, section 3.3 (several covariates:
        the regression coefficient vector). Tang, Y., Huang, C., Kastelman, D., Bauman, J.
        (2020). Control using predictions as covariates in switchback experiments (CUPAC).
    """
    if not arms:
        raise ValueError("regression adjustment needs at least one arm")
    names = (y, *covariates)
    subs = {a: m.select(names) for a, m in arms.items()}
    pooled: Moments = reduce(add, subs.values())
    cov = pooled.covariance() if pooling == "total" else _within(subs.values())
    beta = _slopes(cov) if np.all(np.isfinite(cov)) else np.zeros(len(covariates))
    xbar_pooled = pooled.means()[1:]
    g = np.concatenate([[1.0], -beta])
    estimates: dict[str, ArmEstimate] = {}
    adj_total = raw_total = 0.0
    for name, sub in subs.items():
        if sub.n < 2:
            estimates[name] = failed(sub.n, ErrorCode.ZERO_UNITS if sub.n <= 0
                                     else ErrorCode.TOO_FEW_UNITS)
            continue
        s = sub.covariance()
        means = sub.means()
        variance = max(float(g @ s @ g), 0.0) / sub.n
        point = float(means[0] - beta @ (means[1:] - xbar_pooled))
        estimates[name] = ArmEstimate(point, variance, sub.n, sub.n - 1)
        adj_total += variance
        raw_total += float(s[0, 0]) / sub.n
    reduction = 1.0 - adj_total / raw_total if raw_total > 0 else float("nan")
    return RegressionResult(estimates, dict(zip(covariates, beta.tolist(), strict=True)),
                            reduction)


def _within(arms: Iterable[Moments]) -> FloatArray:
    """Sums of squares and products about each arm's own means, added over arms."""
    scatter = [m.cross - np.outer(m.sums, m.sums) / m.n for m in arms if m.n > 0]
    if not scatter:
        return np.full((1, 1), np.nan)
    return np.asarray(reduce(add, scatter), dtype=np.float64)


def _slopes(cov: FloatArray) -> FloatArray:
    """``S_xx^+ S_xy`` on standardised covariates, so that scale differences (days next to
    0/1 indicators) cannot make the pseudo-inverse drop a covariate; constant ones get 0."""
    sxx, sxy = cov[1:, 1:], cov[1:, 0]
    scale = np.sqrt(np.clip(np.diag(sxx), 0.0, None))
    live = scale > 0
    beta = np.zeros(len(scale))
    if np.any(live):
        s = scale[live]
        standard = sxx[np.ix_(live, live)] / np.outer(s, s)
        beta[live] = np.linalg.pinv(standard, rcond=1e-12, hermitian=True) @ (sxy[live] / s) / s
    return beta


@dataclass(frozen=True)
class PoststratResult:
    """Post-stratified estimates.

    Attributes:
        estimates: Post-stratified estimate per arm.
        weights: Weight of each stratum.
        variance_reduction: ``1 - sum_a Var(post-stratified_a) / sum_a Var(plain mean_a)``.
    """

    estimates: dict[str, ArmEstimate]
    weights: dict[str, float]
    variance_reduction: float


def poststratified_estimates(
    arms: Mapping[str, Mapping[str, Moments]],
    y: str = "y",
    weights: Mapping[str, float] | None = None,
) -> PoststratResult:
    """Post-stratification on a pre-experiment category.

    ``ybar_a = sum_k w_k ybar_ak`` with ``Var = sum_k w_k^2 s_ak^2 / n_ak`` (strata weights
    treated as known) and Welch-Satterthwaite degrees of freedom over the strata. By default
    ``w_k`` is stratum ``k``'s share of all units in all arms.

    Args:
        arms: Per arm, moments per stratum (the same strata in every arm).
        y: The metric.
        weights: Known population shares per stratum (normalised to sum 1); default: pooled
            experiment shares.

    Returns:
        Estimates per arm (``TOO_FEW_UNITS`` if a stratum of that arm has fewer than 2 units),
        the weights, and the variance reduction against plain means.

    References:
        Miratrix, L. W., Sekhon, J. S., Yu, B. (2013). Adjusting treatment effect estimates by
        post-stratification in randomized experiments. JRSS B 75(2), 369-396, eq. (3)-(5).
        Xie, H., Aurisset, J. (2016). Improving the sensitivity of online controlled
        experiments: case studies at Netflix. KDD 2016.
    """
    strata = sorted({k for per in arms.values() for k in per})
    if not strata:
        raise ValueError("post-stratification needs at least one stratum")
    counts = {k: sum(per[k].n for per in arms.values() if k in per) for k in strata}
    raw_w = dict(weights) if weights is not None else counts
    total_w = sum(raw_w.get(k, 0.0) for k in strata)
    w = {k: (raw_w.get(k, 0.0) / total_w if total_w > 0 else float("nan")) for k in strata}
    estimates: dict[str, ArmEstimate] = {}
    adj_total = raw_total = 0.0
    for name, per in arms.items():
        est = _poststratified_arm(per, y, w)
        estimates[name] = est
        plain: Moments = reduce(add, (m.select((y,)) for m in per.values()))
        if est.error is None and plain.n >= 2:
            adj_total += est.variance
            raw_total += plain.variance(y) / plain.n
    reduction = 1.0 - adj_total / raw_total if raw_total > 0 else float("nan")
    return PoststratResult(estimates, w, reduction)


def _poststratified_arm(per: Mapping[str, Moments], y: str, w: Mapping[str, float]
                        ) -> ArmEstimate:
    n_total = sum(m.n for m in per.values())
    if n_total <= 0:
        return failed(n_total, ErrorCode.ZERO_UNITS)
    point = variance = welch_den = 0.0
    for k, wk in w.items():
        if wk == 0:
            continue
        m = per.get(k)
        if m is None or m.n < 2:
            return failed(n_total, ErrorCode.TOO_FEW_UNITS)
        term = wk**2 * m.variance(y) / m.n
        point += wk * m.mean(y)
        variance += term
        welch_den += term**2 / (m.n - 1)
    df = variance**2 / welch_den if welch_den > 0 else n_total - len(w)
    return ArmEstimate(point, variance, n_total, df)
