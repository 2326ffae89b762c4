"""Quantile metrics: the variance of a sample quantile from order statistics, iid or clustered.

A sample quantile is the order statistic ``x_(k)``, ``k = ceil(n nu)`` (the inverse of the
empirical CDF: numpy's ``method="inverted_cdf"``, Hyndman & Fan type 1). Its variance is
``nu (1 - nu) / (n f(q)^2)`` with ``f`` the density at the quantile; ``1 / f`` is estimated
from two more order statistics, ``L = x_(k_lo)`` and ``U = x_(k_hi)`` with
``k = n nu -/+ z sqrt(n nu (1 - nu))`` (``z`` = :data:`BAND_Z`), the distribution-free
interval for the quantile: ``Var(q) = ((U - L) / (2 z))^2``.

When units hold several observations (event-level quantiles: latency of every request, users
randomised), the observations are not independent. Following Deng, Knoblich & Lu (2018,
section 4.2), ``F(q)`` is estimated by the ratio of per-unit sums ``sum_i S_i / sum_i M_i``
(``S_i``: the unit's events at or below ``q``, ``M_i``: its events), whose delta-method variance
``sigma^2`` replaces the iid ``nu (1 - nu) / n``: ``Var(q) = ((U - L) / (2 z))^2 * sigma^2 n /
(nu (1 - nu))``. GrowthBook's gbstats uses the same estimator (``QuantileClusteredStatistic``).

Arms are independent, so the difference of two quantiles has variance ``Var_t + Var_c`` (a z
test), and the relative difference ``q_t / q_c - 1`` the delta-method variance of
:func:`assay.stats.tests.compare`.

References:
    Deng, A., Knoblich, U., Lu, J. (2018). Applying the delta method in metric analytics: a
    practical guide with novel ideas. KDD 2018, section 4.2 (quantile metrics).
    Hyndman, R. J., Fan, Y. (1996). Sample quantiles in statistical packages. The American
    Statistician 50(4), 361-365 (definition 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.stats.codes import ErrorCode
from assay.stats.estimates import ArmEstimate, failed
from assay.stats.moments import FloatArray, Moments
from assay.stats.tests import Alternative, Effect, LiftInterval, compare

BAND_Z = 1.959963984540054
"""``z`` of the order-statistic band that estimates the density (the 97.5% normal quantile).

Fixed, whatever the experiment's alpha: it sets the bandwidth of the density estimate, not the
level of any interval."""

CLUSTER_VARIABLES = ("m", "s")
"""Per-unit variables of an event-level quantile: ``m`` events, ``s`` of them at or below the
arm's quantile (their moments come from the warehouse in the usual contract)."""


@dataclass(frozen=True)
class QuantileArm:
    """One arm's order statistics (from the warehouse).

    Attributes:
        n: Observations: units (unit-level) or events (event-level).
        quantile: ``x_(k)``, ``k = ceil(n nu)``.
        lower: ``x_(k_lo)`` (see :func:`band_ranks`).
        upper: ``x_(k_hi)``.
        clusters: Event-level only: moments of ``m`` and ``s`` over the units with events
            (``n`` of the moments is the number of units).
    """

    n: float
    quantile: float
    lower: float
    upper: float
    clusters: Moments | None = None

    @classmethod
    def from_values(
        cls, values: Sequence[float] | FloatArray, nu: float,
        units: Sequence[object] | NDArray[Any] | None = None,
    ) -> QuantileArm:
        """The order statistics of unit-level values, or of events with their ``units``
        (clustered), computed in Python (tests, small data; the warehouse does the same)."""
        x = np.asarray(values, dtype=np.float64)
        n = len(x)
        if n == 0:
            return cls(0.0, math.nan, math.nan, math.nan, None)
        k, lo, hi = band_ranks(n, nu)
        ordered = np.sort(x)
        q = float(ordered[k - 1])
        clusters = None
        if units is not None:
            _, codes = np.unique(np.asarray(units), return_inverse=True)
            m = np.bincount(codes).astype(np.float64)
            s = np.bincount(codes, weights=(x <= q).astype(np.float64)).astype(np.float64)
            clusters = Moments.from_values({"m": m, "s": s})
        return cls(float(n), q, float(ordered[lo - 1]), float(ordered[hi - 1]), clusters)


def band_ranks(n: int, nu: float) -> tuple[int, int, int]:
    """``(k, k_lo, k_hi)``: 1-based ranks of the quantile and its band, clipped to ``[1, n]``.

    The SQL evaluates exactly these double-precision operations in the same order.
    """
    nd = float(n)
    spread = band_spread(nu) * math.sqrt(nd)
    k = math.ceil(nd * nu)
    lo = math.ceil(nd * nu - spread)
    hi = math.ceil(nd * nu + spread)
    return max(1, min(n, k)), max(1, min(n, lo)), max(1, min(n, hi))


def band_spread(nu: float) -> float:
    """``z sqrt(nu (1 - nu))``: half the band's width in ranks is this times ``sqrt(n)``."""
    return BAND_Z * math.sqrt(nu * (1.0 - nu))


def quantile_estimate(arm: QuantileArm, nu: float) -> ArmEstimate:
    """The arm's quantile and the variance of it (iid, or clustered when ``arm.clusters``).

    Errors: ``ZERO_UNITS`` without observations; ``TOO_FEW_UNITS`` when the band reaches past
    the sample (``n nu -/+ z sqrt(n nu (1 - nu))`` outside ``[1, n]``: too few observations
    to estimate the density at that quantile; p99 needs about 400).
    """
    if arm.n <= 0 or math.isnan(arm.quantile):
        return failed(arm.n, ErrorCode.ZERO_UNITS)
    spread = band_spread(nu) * math.sqrt(arm.n)
    if arm.n * nu - spread < 1.0 or arm.n * nu + spread > arm.n:
        return failed(arm.n, ErrorCode.TOO_FEW_UNITS)
    variance = ((arm.upper - arm.lower) / (2.0 * BAND_Z)) ** 2
    units = arm.n
    if arm.clusters is not None:
        units = arm.clusters.n
        ratio = _ratio_variance(arm.clusters)
        if units < 2 or not math.isfinite(ratio):
            return failed(units, ErrorCode.TOO_FEW_UNITS)
        variance *= ratio * arm.n / (nu * (1.0 - nu))
    return ArmEstimate(arm.quantile, variance, units, math.inf)


def _ratio_variance(clusters: Moments) -> float:
    """Delta-method variance of ``sum s / sum m`` over units (Deng et al. 2018, eq. 4)."""
    k = clusters.n
    mean_m, mean_s = clusters.mean("m"), clusters.mean("s")
    if k < 2 or mean_m <= 0:
        return math.nan
    cov = clusters.covariance()
    i, j = clusters.index("m"), clusters.index("s")
    r = mean_s / mean_m
    num = cov[j, j] - 2.0 * r * cov[i, j] + r * r * cov[i, i]
    return float(max(num, 0.0) / (k * mean_m**2))


def compare_quantiles(
    control: QuantileArm,
    treatment: QuantileArm,
    nu: float,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    lift_interval: LiftInterval = "delta",
) -> Effect:
    """Treatment quantile minus control quantile: z test and intervals (diff and relative).

    The effect's ``method`` names the estimator; errors as :func:`quantile_estimate` and
    :func:`assay.stats.tests.compare` (``ZERO_VARIANCE`` when the band has zero width, e.g.
    a quantile inside a run of tied values).
    """
    pair = quantile_estimate(control, nu), quantile_estimate(treatment, nu)
    effect = compare(*pair, alpha=alpha, test="z", alternative=alternative,
                     lift_interval=lift_interval)
    clustered = control.clusters is not None
    return replace(effect, method=quantile_method(nu, clustered))


def quantile_method(nu: float, clustered: bool) -> str:
    """How a quantile comparison was computed, for results."""
    level = f"p{100 * nu:g}"
    basis = ("event-level, units as clusters (delta method, Deng et al. 2018)"
             if clustered else "unit-level")
    return f"quantile {level} z ({basis}; order-statistic density)"
