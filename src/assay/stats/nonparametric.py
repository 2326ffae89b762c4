"""Rank and resampling methods computed from statistics the warehouse returns in one pass.

* Mann-Whitney U from the treatment's rank sum over the pooled sample (mid-ranks for ties, SQL
  ``RANK()``-style average ranks) and the tie term ``sum(t^3 - t)`` over groups of equal values
  (a ``GROUP BY value``).
* Poisson bootstrap: each unit gets, per replicate ``b``, a weight ``w_ub ~ Poisson(1)`` derived
  from a hash of (unit, b); the warehouse returns per arm and replicate ``sum w y`` and ``sum w``
  (or ``sum w num`` and ``sum w den`` for a ratio), so no unit-level row leaves it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from assay.stats.codes import ErrorCode
from assay.stats.moments import FloatArray

Alternative = Literal["two-sided", "greater", "less"]


@dataclass(frozen=True)
class MannWhitneyResult:
    """Mann-Whitney U test of treatment against control.

    Attributes:
        u: ``U`` of the treatment arm, ``R_t - n_t (n_t + 1) / 2``.
        auc: ``U / (n_t n_c)``: ``P(T > C) + P(T = C) / 2`` (common-language effect size).
        statistic: Normal-approximation z (with the continuity correction when asked).
        p_value: p-value of the alternative.
        error: ``ZERO_UNITS`` / ``ZERO_VARIANCE`` (every value tied) with NaN numbers.
    """

    u: float
    auc: float
    statistic: float
    p_value: float
    error: ErrorCode | None = None


def mann_whitney(
    n_control: float,
    n_treatment: float,
    rank_sum_treatment: float,
    tie_term: float = 0.0,
    *,
    alternative: Alternative = "two-sided",
    use_continuity: bool = True,
) -> MannWhitneyResult:
    """Mann-Whitney U test (normal approximation with tie correction) from a rank sum.

    ``U = R_t - n_t (n_t + 1) / 2``, ``E[U] = n_t n_c / 2``,
    ``Var[U] = n_t n_c / 12 ((N + 1) - sum(t^3 - t) / (N (N - 1)))``. Two-sided uses
    ``max(U, n_t n_c - U)`` and doubles the upper tail, as scipy does.

    Args:
        n_control: Units in control.
        n_treatment: Units in treatment.
        rank_sum_treatment: Sum of the treatment units' mid-ranks in the pooled sample.
        tie_term: ``sum over distinct values of (t^3 - t)``, ``t`` the count of that value.
        alternative: ``"greater"``: treatment tends to be larger.
        use_continuity: Apply the 0.5 continuity correction.

    Returns:
        The test; equals ``scipy.stats.mannwhitneyu(treatment, control, method="asymptotic")``.

    References:
        Mann, H. B., Whitney, D. R. (1947). Ann. Math. Statist. 18, 50-60. Lehmann, E. L.
        (2006). Nonparametrics: Statistical Methods Based on Ranks, eq. (1.28) (tie correction).
    """
    n_t, n_c = float(n_treatment), float(n_control)
    nan = math.nan
    if n_t <= 0 or n_c <= 0:
        return MannWhitneyResult(nan, nan, nan, nan, ErrorCode.ZERO_UNITS)
    n = n_t + n_c
    u_t = rank_sum_treatment - n_t * (n_t + 1) / 2
    mu = n_t * n_c / 2
    var = n_t * n_c / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    auc = u_t / (n_t * n_c)
    if not var > 0:
        return MannWhitneyResult(u_t, auc, nan, nan, ErrorCode.ZERO_VARIANCE)
    if alternative == "greater":
        u = u_t
    elif alternative == "less":
        u = n_t * n_c - u_t
    else:
        u = max(u_t, n_t * n_c - u_t)
    z = (u - mu - (0.5 if use_continuity else 0.0)) / math.sqrt(var)
    p = float(special.ndtr(-z)) * (2.0 if alternative == "two-sided" else 1.0)  # norm.sf
    return MannWhitneyResult(u_t, auc, z, min(max(p, 0.0), 1.0))


# Poisson(1) cumulative probabilities P(W <= k), k = 0..19: a unit's weight is the number of
# thresholds a uniform hash value in [0, 1) reaches (inverse-CDF sampling; SQL can use a CASE).
POISSON1_CDF: tuple[float, ...] = tuple(float(v) for v in special.pdtr(np.arange(20), 1.0))


def poisson_weights(u: FloatArray) -> FloatArray:
    """Poisson(1) weights from uniforms in ``[0, 1)`` by inverse CDF (the SQL twin's rule)."""
    return np.searchsorted(np.asarray(POISSON1_CDF), u, side="right").astype(np.float64)


@dataclass(frozen=True)
class Replicates:
    """Poisson-bootstrap replicate sums of one arm.

    For a mean metric ``num = sum w y`` and ``den = sum w``; for a ratio metric
    ``num = sum w num`` and ``den = sum w den``. ``full_num`` / ``full_den`` are the sums with
    every weight 1 (the point estimate).
    """

    num: FloatArray
    den: FloatArray
    full_num: float
    full_den: float


@dataclass(frozen=True)
class BootstrapResult:
    """Percentile interval of a difference (or relative lift) from Poisson-bootstrap replicates.

    Attributes:
        statistic: ``"diff"`` or ``"rel_lift"``.
        point: Estimate on the full data.
        ci: Percentile interval at level ``1 - alpha`` (quantiles by Hyndman & Fan's type 6,
            ``numpy.quantile(method="weibull")``).
        se: Standard deviation of the replicates.
        replicates: Number of replicates used (those with a defined statistic).
        error: ``TOO_FEW_UNITS`` when fewer than 20 replicates are defined,
            ``DENOMINATOR_ZERO`` when the point estimate is undefined.
    """

    statistic: str
    point: float
    ci: tuple[float, float]
    se: float
    replicates: int
    error: ErrorCode | None = None


def poisson_bootstrap(
    control: Replicates,
    treatment: Replicates,
    *,
    statistic: Literal["diff", "rel_lift"] = "diff",
    alpha: float = 0.05,
) -> BootstrapResult:
    """Percentile bootstrap interval of ``t - c`` or ``t / c - 1`` from replicate sums.

    Args:
        control: Replicate sums of control.
        treatment: Replicate sums of treatment (same replicate count and hash seeds).
        statistic: ``"diff"`` or ``"rel_lift"``.
        alpha: ``1 - alpha`` is the interval level.

    Returns:
        Point, percentile interval, bootstrap standard error.

    References:
        Chamandy, N., Muralidharan, O., Najmi, A., Naidu, S. (2012). Estimating uncertainty for
        massive data streams. Google technical report (Poisson bootstrap). Efron, B.,
        Tibshirani, R. (1993). An Introduction to the Bootstrap, section 13.3 (percentile).
        Hyndman, R. J., Fan, Y. (1996). Sample quantiles in statistical packages. Amer.
        Statist. 50(4), 361-365 (definition 6).
    """
    nan = math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.asarray(control.num) / np.asarray(control.den)
        t = np.asarray(treatment.num) / np.asarray(treatment.den)
        c0 = control.full_num / control.full_den if control.full_den else nan
        t0 = treatment.full_num / treatment.full_den if treatment.full_den else nan
    if statistic == "diff":
        reps, point = t - c, t0 - c0
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            reps = np.where(c != 0, t / c - 1.0, np.nan)
        point = t0 / c0 - 1.0 if c0 else nan
    reps = reps[np.isfinite(reps)]
    if not math.isfinite(point):
        return BootstrapResult(statistic, nan, (nan, nan), nan, int(reps.size),
                               ErrorCode.DENOMINATOR_ZERO)
    if reps.size < 20:
        return BootstrapResult(statistic, point, (nan, nan), nan, int(reps.size),
                               ErrorCode.TOO_FEW_UNITS)
    # Hyndman-Fan type 6 (position p (B + 1)): its expected probability content is exactly p,
    # whereas numpy's default (type 7) sits inward and costs ~1/B of coverage per tail.
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2], method="weibull")
    return BootstrapResult(statistic, float(point), (float(lo), float(hi)),
                           float(np.std(reps, ddof=1)), int(reps.size))
