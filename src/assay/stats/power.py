"""Power analysis: sample size, minimum detectable effect and achieved power.

Means and ratio metrics use a normal (or noncentral t) test of the difference with the per-unit
standard deviation (for a ratio metric: of its delta-method linearisation, see
:func:`metric_from_history`); proportions use the two-proportion z-test with the pooled variance
under the null and the unpooled variance under the alternative (what :func:`assay.stats.tests.
proportion_test` does). CUPED enters as a variance multiplier ``1 - r``; sequential designs as a
sample-size inflation factor (:mod:`assay.stats.group_sequential`, :func:`msprt_inflation`).

Sample sizes are per arm: ``n_control`` and ``n_treatment = ratio * n_control``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy import optimize

from assay.stats import normal
from assay.stats.moments import Moments

Alternative = Literal["two-sided", "greater", "less"]
_HI = 1e13  # largest sample size the solvers search


def _crit(alpha: float, alternative: Alternative) -> float:
    return float(-normal.ppf(alpha / 2 if alternative == "two-sided" else alpha))


def power_z(
    diff: float,
    std_null: float,
    std_alt: float | None = None,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> float:
    """Power of a z-test of a difference whose standard error is ``std_null`` under H0.

    ``power = Phi(-(z crit std_null - diff) / std_alt) + Phi((-z crit std_null - diff) / std_alt)``
    (the second term for two-sided tests, which statsmodels also counts).

    Args:
        diff: True difference.
        std_null: Standard error of the estimated difference under the null.
        std_alt: Standard error under the alternative (default: ``std_null``).
        alpha: Level.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.

    References:
        Chow, S.-C., Shao, J., Wang, H. (2008). Sample Size Calculations in Clinical Research,
        2nd ed., sections 3.2 and 4.2. Equals statsmodels ``normal_power_het``.
    """
    std_alt = std_null if std_alt is None else std_alt
    crit = _crit(alpha, alternative)
    power = 0.0
    if alternative in ("two-sided", "greater"):
        power += float(normal.sf((crit * std_null - diff) / std_alt))
    if alternative in ("two-sided", "less"):
        power += float(normal.cdf((-crit * std_null - diff) / std_alt))
    return power


def power_t(
    effect_size: float, n_control: float, *, ratio: float = 1.0, alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> float:
    """Power of the two-sample t-test (noncentral t, ``df = n_c + n_t - 2``).

    Args:
        effect_size: Standardised difference ``diff / std``.
        n_control: Units in control; treatment has ``ratio * n_control``.
        ratio: Allocation ratio treatment / control.
        alpha: Level.
        alternative: Alternative hypothesis.

    References:
        Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences, 2nd ed.,
        chapter 2. Equals statsmodels ``TTestIndPower().power``.
    """
    # Only this test needs scipy.stats (the noncentral t); importing it costs about a second.
    from scipy import stats as sps

    n_t = ratio * n_control
    df = n_control + n_t - 2
    nc = effect_size * math.sqrt(1.0 / (1.0 / n_control + 1.0 / n_t))
    a = alpha / 2 if alternative == "two-sided" else alpha
    crit = float(sps.t.isf(a, df))
    power = 0.0
    if alternative in ("two-sided", "greater"):
        power += _nct_tail(float(sps.nct.sf(crit, df, nc)), crit - nc, upper=True)
    if alternative in ("two-sided", "less"):
        power += _nct_tail(float(sps.nct.cdf(-crit, df, nc)), -crit - nc, upper=False)
    return min(power, 1.0)


def _nct_tail(value: float, shifted: float, *, upper: bool) -> float:
    """A noncentral-t tail probability, with its normal approximation where scipy fails.

    scipy's noncentral t returns NaN for some far tails at large noncentrality (e.g. the lower
    tail at ``nc`` = 12 with 6,000 df), where the probability is below 1e-40: the normal tail
    at the same distance stands in (to within far less than any power that can be reported).
    """
    if math.isfinite(value) and 0.0 <= value <= 1.0:
        return value
    return float(normal.sf(shifted) if upper else normal.cdf(shifted))


def _se_mean(std: float, n_control: float, ratio: float) -> float:
    return std * math.sqrt(1.0 / n_control + 1.0 / (ratio * n_control))


def power_mean(
    diff: float, std: float, n_control: float, *, ratio: float = 1.0, alpha: float = 0.05,
    alternative: Alternative = "two-sided", test: Literal["z", "t"] = "z",
) -> float:
    """Achieved power for a difference in means (or in a linearised ratio metric).

    Args:
        diff: Absolute difference to detect.
        std: Per-unit standard deviation (after any CUPED reduction).
        n_control: Units in control.
        ratio: Treatment / control allocation.
        alpha: Level.
        alternative: Alternative hypothesis.
        test: ``"z"`` (statsmodels ``NormalIndPower``) or ``"t"`` (``TTestIndPower``).
    """
    if test == "t":
        return power_t(diff / std, n_control, ratio=ratio, alpha=alpha, alternative=alternative)
    return power_z(diff, _se_mean(std, n_control, ratio), alpha=alpha, alternative=alternative)


def _prop_ses(p_c: float, p_t: float, n_c: float, ratio: float, factor: float = 1.0
              ) -> tuple[float, float]:
    n_t = ratio * n_c
    pooled = (p_c * n_c + p_t * n_t) / (n_c + n_t)
    null = math.sqrt(factor * pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    alt = math.sqrt(factor * (p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t))
    return null, alt


def power_proportion(
    p_control: float, p_treatment: float, n_control: float, *, ratio: float = 1.0,
    alpha: float = 0.05, alternative: Alternative = "two-sided", variance_factor: float = 1.0,
) -> float:
    """Achieved power of the two-proportion z-test (pooled null, unpooled alternative).

    ``variance_factor`` multiplies both variances (``1 - r`` for a CUPED reduction ``r``).

    References:
        Fleiss, J. L., Levin, B., Paik, M. C. (2003). Statistical Methods for Rates and
        Proportions, 3rd ed., eq. (4.14) without continuity correction. Equals statsmodels
        ``power_proportions_2indep``.
    """
    null, alt = _prop_ses(p_control, p_treatment, n_control, ratio, variance_factor)
    return power_z(p_treatment - p_control, null, alt, alpha=alpha, alternative=alternative)


def _solve_n(power_of_n: object, target: float) -> float:
    f = power_of_n  # a callable n -> power, increasing in n
    lo, hi = 2.0 + 1e-9, 4.0

    def gap(n: float) -> float:
        return float(f(n)) - target  # type: ignore[operator]

    if gap(lo) >= 0:
        return lo
    while gap(hi) < 0:
        lo, hi = hi, hi * 4
        if hi > _HI:
            return math.inf
    return float(optimize.brentq(gap, lo, hi, xtol=1e-10, rtol=1e-15, maxiter=500))


def sample_size_mean(
    diff: float, std: float, *, power: float = 0.8, ratio: float = 1.0, alpha: float = 0.05,
    alternative: Alternative = "two-sided", test: Literal["z", "t"] = "z",
) -> float:
    """Control-arm units needed to detect ``diff`` (treatment needs ``ratio`` times as many).

    Solves :func:`power_mean` ``= power`` exactly (both tails counted), so it equals statsmodels
    ``NormalIndPower`` / ``TTestIndPower`` ``solve_power`` with ``effect_size = diff / std``.
    Not rounded up.
    """
    return _solve_n(lambda n: power_mean(abs(diff), std, n, ratio=ratio, alpha=alpha,
                                         alternative=_aligned(alternative, diff), test=test),
                    power)


def sample_size_proportion(
    p_control: float, p_treatment: float, *, power: float = 0.8, ratio: float = 1.0,
    alpha: float = 0.05, alternative: Alternative = "two-sided", variance_factor: float = 1.0,
) -> float:
    """Control-arm units needed for the two-proportion z-test (not rounded up)."""
    return _solve_n(lambda n: power_proportion(p_control, p_treatment, n, ratio=ratio,
                                               alpha=alpha, alternative=alternative,
                                               variance_factor=variance_factor), power)


def _aligned(alternative: Alternative, diff: float) -> Alternative:
    # With |diff| the direction of a one-sided test must follow the sign of diff.
    if alternative == "two-sided":
        return alternative
    if diff < 0:
        return "greater" if alternative == "less" else "less"
    return alternative


def mde_mean(
    std: float, n_control: float, *, power: float = 0.8, ratio: float = 1.0, alpha: float = 0.05,
    alternative: Alternative = "two-sided", test: Literal["z", "t"] = "z",
) -> float:
    """Smallest absolute difference detected with probability ``power`` (positive direction)."""
    alt: Alternative = "greater" if alternative == "less" else alternative
    se = _se_mean(std, n_control, ratio)

    def gap(d: float) -> float:
        return power_mean(d, std, n_control, ratio=ratio, alpha=alpha, alternative=alt,
                          test=test) - power

    return float(optimize.brentq(gap, 0.0, 50 * se + 1e-300, xtol=1e-14 * se, rtol=1e-15))


def mde_proportion(
    p_control: float, n_control: float, *, power: float = 0.8, ratio: float = 1.0,
    alpha: float = 0.05, alternative: Alternative = "two-sided", variance_factor: float = 1.0,
) -> float:
    """Smallest absolute increase of the rate detected with probability ``power``."""
    alt: Alternative = "greater" if alternative == "less" else alternative

    def gap(d: float) -> float:
        return power_proportion(p_control, p_control + d, n_control, ratio=ratio, alpha=alpha,
                                alternative=alt, variance_factor=variance_factor) - power

    hi = 1.0 - p_control - 1e-12
    if gap(hi) < 0:
        return math.nan
    return float(optimize.brentq(gap, 0.0, hi, xtol=1e-15, rtol=1e-14))


def msprt_inflation(
    diff: float, std: float, n_fixed: float, *, tau: float | None = None, power: float = 0.8,
    alpha: float = 0.05, ratio: float = 1.0,
) -> float:
    """Sample-size inflation of mSPRT relative to a fixed-horizon two-sided z-test.

    The mSPRT rejects at a look when ``|Z| >= c(V)`` with
    ``c^2 = (V + tau^2) / tau^2 (log((V + tau^2) / V) - 2 log alpha)``. The returned factor makes
    the power at the *final* look alone equal to ``power``; early looks only add power, so it
    is conservative (an upper bound on the inflation needed).

    Args:
        diff: Difference to detect.
        std: Per-unit standard deviation.
        n_fixed: Control units of the fixed-horizon design (:func:`sample_size_mean`).
        tau: Mixing standard deviation (default ``|diff|``).
        power: Target power.
        alpha: Level.
        ratio: Treatment / control allocation.

    References:
        Johari et al. (2022), Operations Research 70(3), eq. (11).
    """
    tau2 = (abs(diff) if tau is None else tau) ** 2

    def power_at(n: float) -> float:
        v = _se_mean(std, n, ratio) ** 2
        c = math.sqrt((v + tau2) / tau2 * (math.log((v + tau2) / v) - 2 * math.log(alpha)))
        shift = abs(diff) / math.sqrt(v)
        return float(normal.sf(c - shift) + normal.cdf(-c - shift))

    return _solve_n(power_at, power) / n_fixed


def metric_from_history(
    m: Moments, kind: Literal["mean", "proportion", "ratio"], *, y: str = "y",
    num: str = "num", den: str = "den", x: str | None = None,
) -> dict[str, float]:
    """Baseline and per-unit standard deviation of a metric from a past period's moments.

    For ``"ratio"`` the standard deviation is that of the delta-method linearisation
    ``(num - R den) / mean(den)``, so ``std^2 / n`` is the ratio's variance. With ``x`` (a
    covariate observed before that period) the achievable CUPED reduction ``rho^2`` is returned.

    Args:
        m: Moments over the past period (the warehouse computes them like an analysis's).
        kind: Metric kind.
        y: Variable of a mean or proportion metric.
        num: Numerator of a ratio metric.
        den: Denominator of a ratio metric.
        x: Optional pre-period covariate for the CUPED reduction (mean metrics).

    Returns:
        ``{"baseline", "std", "n"}`` and ``"cuped_reduction"`` when ``x`` is given
        (NaN where the data cannot support it).

    References:
        Deng et al. (2018), KDD, section 3 (linearisation); Deng et al. (2013), WSDM, eq. 4.
    """
    out: dict[str, float] = {"n": m.n}
    if kind == "ratio":
        sub = m.select((num, den))
        mu_n, mu_d = sub.means()
        grad = np.array([1.0 / mu_d, -mu_n / mu_d**2]) if mu_d else np.array([np.nan, np.nan])
        out["baseline"] = float(mu_n / mu_d) if mu_d else math.nan
        out["std"] = math.sqrt(max(float(grad @ sub.covariance() @ grad), 0.0))
        return out
    mean = m.mean(y)
    out["baseline"] = mean
    out["std"] = math.sqrt(mean * (1 - mean)) if kind == "proportion" else math.sqrt(
        m.variance(y))
    if x is not None:
        cov = m.select((y, x)).covariance()
        denom = cov[0, 0] * cov[1, 1]
        out["cuped_reduction"] = float(cov[0, 1] ** 2 / denom) if denom > 0 else math.nan
    return out
