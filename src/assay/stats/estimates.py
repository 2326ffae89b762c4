"""Per-arm point estimates and the variance of each, from sufficient statistics.

Every function here reads :class:`~assay.stats.moments.Moments` (count, sums, cross-product sums)
and returns an :class:`ArmEstimate`: the point, the variance *of the point*, the count and the
degrees of freedom a test should use. Comparisons between arms live in :mod:`assay.stats.tests`.

Data problems never raise: an estimate that cannot be computed carries an
:class:`~assay.stats.codes.ErrorCode` and NaN numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import add

import numpy as np

from assay.stats.codes import ErrorCode
from assay.stats.moments import FloatArray, Moments

NAN = float("nan")
INF = float("inf")


@dataclass(frozen=True)
class ArmEstimate:
    """A point estimate for one arm and the variance of that estimate.

    Attributes:
        point: The estimate (a mean, a ratio of sums, a CUPED-adjusted mean ...).
        variance: Variance OF the point estimate (e.g. ``s^2 / n`` for a sample mean).
        n: Number of units.
        df: Degrees of freedom of ``variance``: ``n - 1`` for a sample mean, ``inf`` when the
            variance comes from the delta method or a normal approximation.
        error: Why the estimate could not be computed; numbers are NaN when set.
    """

    point: float
    variance: float
    n: float
    df: float
    error: ErrorCode | None = None

    @property
    def se(self) -> float:
        """Standard error of the point estimate."""
        return math.sqrt(self.variance) if self.variance >= 0 else NAN


@dataclass(frozen=True)
class CupedResult:
    """CUPED-adjusted estimates for every arm and the adjustment used.

    Attributes:
        estimates: Adjusted estimate per arm, keyed like the input.
        theta: The coefficient, pooled across arms (0.0 when the covariate is constant).
        variance_reduction: ``1 - sum_a Var(adjusted_a) / sum_a Var(unadjusted_a)``: the share
            of the variance of the arm estimates that the covariate removed (NaN when undefined).
    """

    estimates: dict[str, ArmEstimate]
    theta: float
    variance_reduction: float


def failed(n: float, error: ErrorCode, df: float = NAN) -> ArmEstimate:
    """An estimate that could not be computed."""
    return ArmEstimate(NAN, NAN, n, df, error)


def _count_error(n: float) -> ErrorCode | None:
    if n <= 0:
        return ErrorCode.ZERO_UNITS
    if n < 2:
        return ErrorCode.TOO_FEW_UNITS
    return None


def mean_estimate(m: Moments, var: str = "y") -> ArmEstimate:
    """Sample mean of ``var`` and its variance ``s^2 / n`` (``s^2`` with ``ddof=1``).

    A constant metric gives ``variance == 0`` and no error: the comparison decides whether a
    zero standard error is a problem (see :func:`assay.stats.tests.compare`).

    Args:
        m: Moments of the arm; must include ``var``.
        var: The per-unit variable.

    Returns:
        The estimate with ``df = n - 1``; ``ZERO_UNITS`` / ``TOO_FEW_UNITS`` when ``n < 2``.

    References:
        Welch, B. L. (1947). The generalization of 'Student's' problem when several different
        population variances are involved. Biometrika 34(1/2), 28-35 (``s_i^2 / n_i``).
    """
    error = _count_error(m.n)
    if error is not None:
        return failed(m.n, error)
    return ArmEstimate(m.mean(var), m.variance(var) / m.n, m.n, m.n - 1)


def _ratio_gradient(means: FloatArray) -> FloatArray:
    """Gradient of ``mu_num / mu_den`` with respect to ``(mu_num, mu_den)``."""
    mu_num, mu_den = means
    return np.array([1.0 / mu_den, -mu_num / mu_den**2])


def ratio_estimate(m: Moments, num: str = "num", den: str = "den") -> ArmEstimate:
    """Ratio of sums ``sum num / sum den`` with its delta-method variance.

    ``Var(R) = (s_nn / mu_d^2 - 2 mu_n s_nd / mu_d^3 + mu_n^2 s_dd / mu_d^4) / n``, the
    numerator-denominator covariance ``s_nd`` included (sample moments, ``ddof=1``).

    Args:
        m: Moments of the arm; must include ``num`` and ``den``.
        num: Numerator variable (e.g. clicks per user).
        den: Denominator variable (e.g. page views per user).

    Returns:
        The estimate with ``df = inf``; ``DENOMINATOR_ZERO`` when ``sum den == 0``.

    References:
        Deng, A., Knoblich, U., Lu, J. (2018). Applying the delta method in metric analytics: a
        practical guide with novel ideas. KDD 2018, section 3 (eq. 3, ratio of two means).
    """
    error = _count_error(m.n)
    if error is not None:
        return failed(m.n, error, INF)
    sub = m.select((num, den))
    totals = sub.totals()
    if totals[1] == 0:
        return failed(m.n, ErrorCode.DENOMINATOR_ZERO, INF)
    grad = _ratio_gradient(sub.means())
    variance = float(grad @ sub.covariance() @ grad) / m.n
    return ArmEstimate(float(totals[0] / totals[1]), max(variance, 0.0), m.n, INF)


def _check_arms(arms: Mapping[str, Moments]) -> None:
    if not arms:
        raise ValueError("CUPED needs at least one arm")


def _quad(grad_a: FloatArray, cov: FloatArray, grad_b: FloatArray) -> float:
    return float(grad_a @ cov @ grad_b)


def _variance_reduction(adjusted: float, unadjusted: float) -> float:
    if not unadjusted > 0:
        return NAN
    return 1.0 - adjusted / unadjusted


def cuped_estimates(arms: Mapping[str, Moments], y: str = "y", x: str = "x") -> CupedResult:
    """CUPED with one pre-period covariate, ``theta`` pooled across arms.

    ``theta = cov(y, x) / var(x)`` over all units of all arms pooled (the sum of the arms'
    moments). Each arm's adjusted mean is ``ybar_a - theta (xbar_a - xbar_pooled)`` and its
    variance ``(s_yy - 2 theta s_yx + theta^2 s_xx) / n_a`` from within-arm sample moments
    (``ddof=1``), i.e. exactly Welch's setting applied to the unit-level adjusted values
    ``y - theta (x - xbar_pooled)``. A constant covariate gives ``theta = 0`` (no adjustment).

    Args:
        arms: Moments per arm (each including ``y`` and ``x``).
        y: The metric.
        x: The pre-experiment covariate (e.g. the same metric before exposure).

    Returns:
        Adjusted estimates (``df = n_a - 1``), ``theta`` and the variance reduction achieved.

    References:
        Deng, A., Xu, Y., Kohavi, R., Walker, T. (2013). Improving the sensitivity of online
        controlled experiments by utilizing pre-experiment data. WSDM 2013, section 3.2
        (eq. 3-4: ``theta = cov(Y, X) / var(X)``, ``Var(Y_cv) = Var(Y)(1 - rho^2)``).
    """
    _check_arms(arms)
    subs = {name: m.select((y, x)) for name, m in arms.items()}
    pooled: Moments = reduce(add, subs.values())
    pooled_cov = pooled.covariance()
    theta = _theta(pooled_cov[0, 1], pooled_cov[1, 1])
    xbar_pooled = pooled.mean(x)
    grad = np.array([1.0, -theta])
    estimates: dict[str, ArmEstimate] = {}
    adj_total = raw_total = 0.0
    for name, sub in subs.items():
        error = _count_error(sub.n)
        if error is not None:
            estimates[name] = failed(sub.n, error)
            continue
        cov = sub.covariance()
        variance = max(_quad(grad, cov, grad), 0.0) / sub.n
        ybar, xbar = sub.means()
        point = float(ybar - theta * (xbar - xbar_pooled))
        estimates[name] = ArmEstimate(point, variance, sub.n, sub.n - 1)
        adj_total += variance
        raw_total += float(cov[0, 0]) / sub.n
    return CupedResult(estimates, theta, _variance_reduction(adj_total, raw_total))


def _theta(cov_yx: float, var_x: float) -> float:
    # A constant (or absent) covariate carries no information: fall back to no adjustment.
    if not (np.isfinite(var_x) and var_x > 0 and np.isfinite(cov_yx)):
        return 0.0
    return float(cov_yx / var_x)


def cuped_ratio_estimates(
    arms: Mapping[str, Moments],
    num: str = "num",
    den: str = "den",
    num_pre: str = "num_pre",
    den_pre: str = "den_pre",
) -> CupedResult:
    """CUPED for a ratio metric, with the pre-period ratio as the covariate.

    Both ratios are linearised by the delta method within each arm,
    ``L_y = (num - R_a den) / mu_den`` and ``L_x = (num_pre - P_a den_pre) / mu_den_pre``
    (``R_a``, ``P_a`` the arm's ratios). ``theta = sum_a S_a(L_y, L_x) / sum_a S_a(L_x, L_x)``
    pools the within-arm centred cross-products over all arms, and the adjusted ratio is
    ``R_a - theta (P_a - P_pooled)`` with variance
    ``(s(L_y) - 2 theta s(L_y, L_x) + theta^2 s(L_x)) / n_a``, ``df = inf``.
    An arm whose pre-period denominator sums to zero, or a constant linearised covariate, gives
    ``theta = 0`` (the plain delta-method ratio).

    Args:
        arms: Moments per arm including the four variables.
        num: Numerator during the experiment.
        den: Denominator during the experiment.
        num_pre: Numerator over the pre-experiment period.
        den_pre: Denominator over the pre-experiment period.

    Returns:
        Adjusted ratio estimates, ``theta`` and the variance reduction achieved.

    References:
        Deng, A., Knoblich, U., Lu, J. (2018). Applying the delta method in metric analytics: a
        practical guide with novel ideas. KDD 2018, section 3.3 / appendix (variance reduction
        for ratio metrics: CUPED on the delta-method linearisations).
    """
    _check_arms(arms)
    names = (num, den, num_pre, den_pre)
    subs = {name: m.select(names) for name, m in arms.items()}
    pooled: Moments = reduce(add, subs.values())
    totals = {name: sub.totals() for name, sub in subs.items()}
    pooled_totals = pooled.totals()
    pre_ok = pooled_totals[3] != 0 and all(
        totals[name][3] != 0 for name, sub in subs.items() if sub.n > 0
    )
    p_pooled = float(pooled_totals[2] / pooled_totals[3]) if pre_ok else NAN
    grads: dict[str, tuple[FloatArray, FloatArray]] = {}
    s_yx = s_xx = 0.0
    for name, sub in subs.items():
        if _count_error(sub.n) is not None or totals[name][1] == 0:
            continue
        means = sub.means()
        g_y = np.concatenate([_ratio_gradient(means[:2]), [0.0, 0.0]])
        g_x = np.concatenate([[0.0, 0.0], _ratio_gradient(means[2:])]) if pre_ok else 0 * g_y
        grads[name] = (g_y, g_x)
        cov = sub.covariance() * (sub.n - 1)
        s_yx += _quad(g_y, cov, g_x)
        s_xx += _quad(g_x, cov, g_x)
    theta = _theta(s_yx, s_xx) if pre_ok else 0.0
    estimates: dict[str, ArmEstimate] = {}
    adj_total = raw_total = 0.0
    for name, sub in subs.items():
        error = _count_error(sub.n)
        if error is None and totals[name][1] == 0:
            error = ErrorCode.DENOMINATOR_ZERO
        if error is not None:
            estimates[name] = failed(sub.n, error, INF)
            continue
        g_y, g_x = grads[name]
        g = g_y - theta * g_x
        cov = sub.covariance()
        variance = max(_quad(g, cov, g), 0.0) / sub.n
        t = totals[name]
        point = float(t[0] / t[1])
        if theta != 0.0:
            point -= theta * (float(t[2] / t[3]) - p_pooled)
        estimates[name] = ArmEstimate(point, variance, sub.n, INF)
        adj_total += variance
        raw_total += max(_quad(g_y, cov, g_y), 0.0) / sub.n
    return CupedResult(estimates, theta, _variance_reduction(adj_total, raw_total))


def as_estimates(
    looks: Sequence[tuple[ArmEstimate | Moments, ArmEstimate | Moments]],
    estimator: Callable[[Moments], ArmEstimate] = mean_estimate,
) -> list[tuple[ArmEstimate, ArmEstimate]]:
    """Per-look ``(control, treatment)`` estimates from estimates or cumulative moments.

    Sequential methods take either; moments are turned into estimates by ``estimator``
    (default :func:`mean_estimate` of ``"y"``; pass e.g. ``ratio_estimate`` for ratios).
    """
    return [tuple(arm if isinstance(arm, ArmEstimate) else estimator(arm)  # type: ignore[misc]
                  for arm in pair) for pair in looks]
