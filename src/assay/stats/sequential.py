"""Always-valid inference: mSPRT (normal mixture) and asymptotic confidence sequences.

Both take the cumulative ``(control, treatment)`` estimates at every look and return, per look,
a p-value and an interval for ``treatment - control`` that stay valid however often (and
whenever) one peeks. Both rest on the same normal-mixture martingale

    ``Lambda_k = sqrt(V_k / (V_k + tau^2)) exp(tau^2 diff_k^2 / (2 V_k (V_k + tau^2)))``

(``V_k`` the variance of ``diff_k``): reject when ``Lambda_k >= 1 / alpha``; the always-valid
p-value is ``min(1, min_{j<=k} 1 / Lambda_j)`` and the interval is the running intersection of
``diff_k -/+ sqrt(V_k (V_k + tau^2) / tau^2 (log((V_k + tau^2) / V_k) - 2 log alpha))``.
mSPRT fixes the mixing variance ``tau^2`` on the effect scale; the asymptotic confidence sequence
sets ``tau^2 = sigma_k^2 rho^2`` with ``sigma_k^2 = n_k V_k`` estimated from the data and ``rho``
tuned to be tightest at a chosen sample size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assay.stats.codes import ErrorCode
from assay.stats.estimates import ArmEstimate, as_estimates, mean_estimate
from assay.stats.moments import FloatArray, Moments


@dataclass(frozen=True)
class SequentialLook:
    """One look of an always-valid analysis.

    Attributes:
        n: Units in both arms at this look.
        diff: ``treatment - control`` at this look.
        ci: Always-valid interval (running intersection) at level ``1 - alpha``.
        p_value: Always-valid p-value (running minimum).
    """

    n: float
    diff: float
    ci: tuple[float, float]
    p_value: float


@dataclass(frozen=True)
class SequentialResult:
    """Always-valid analysis over the looks so far.

    Attributes:
        looks: One entry per look.
        rejected: Whether ``p_value <= alpha`` at some look (the interval then excludes 0).
        stopped_at: First look with ``p_value <= alpha``, or None.
        method: ``"msprt"`` or ``"confidence sequence"``.
        error: A data problem at some look (that look's numbers are NaN; later looks go on).
    """

    looks: tuple[SequentialLook, ...]
    rejected: bool
    stopped_at: int | None
    method: str
    error: ErrorCode | None = None


def _stack(raw: Sequence[tuple[ArmEstimate | Moments, ArmEstimate | Moments]],
           estimator: Callable[[Moments], ArmEstimate] = mean_estimate,
           ) -> tuple[FloatArray, FloatArray, FloatArray, ErrorCode | None]:
    looks = as_estimates(raw, estimator)
    n, diff, var = (np.full(len(looks), np.nan) for _ in range(3))
    error: ErrorCode | None = None
    for k, (c, t) in enumerate(looks):
        bad = c.error or t.error
        n[k] = c.n + t.n
        if bad is None and not np.all(np.isfinite([c.point, c.variance, t.point, t.variance])):
            bad = ErrorCode.NON_FINITE
        if bad is None and not c.variance + t.variance > 0:
            bad = ErrorCode.ZERO_VARIANCE
        if bad is not None:
            error = error or bad
            continue
        diff[k] = t.point - c.point
        var[k] = c.variance + t.variance
    return n, diff, var, error


def mixture_arrays(diff: FloatArray, var: FloatArray, tau2: FloatArray | float, alpha: float
                   ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-look ``1 / Lambda`` (the p-value before the running minimum) and interval ends.

    Vectorised over looks (or any cells). ``diff`` and ``var`` are the difference and its
    variance, ``tau2`` the mixing variance.

    References:
        Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2022). Always valid inference:
        continuous monitoring of A/B tests. Operations Research 70(3), 1806-1821, eq. (11)
        (normal mixture likelihood ratio) and section 4 (intervals by inversion).
        Robbins, H. (1970). Statistical methods related to the law of the iterated logarithm.
        Ann. Math. Statist. 41, 1397-1409.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        total = var + tau2
        log_lambda = 0.5 * np.log(var / total) + tau2 * diff**2 / (2.0 * var * total)
        inv_lambda = np.minimum(1.0, np.exp(-log_lambda))
        half = np.sqrt(var * total / tau2 * (np.log(total / var) - 2.0 * math.log(alpha)))
    return inv_lambda, diff - half, diff + half


def _running(n: FloatArray, diff: FloatArray, p: FloatArray, lo: FloatArray, hi: FloatArray,
             alpha: float, method: str, error: ErrorCode | None) -> SequentialResult:
    # NaN looks (data problems) neither tighten the interval nor lower the p-value.
    p_run = np.fmin.accumulate(np.where(np.isnan(p), np.inf, p))
    lo_run = np.fmax.accumulate(np.where(np.isnan(lo), -np.inf, lo))
    hi_run = np.fmin.accumulate(np.where(np.isnan(hi), np.inf, hi))
    looks = tuple(
        SequentialLook(float(n[k]), float(diff[k]), (float(lo_run[k]), float(hi_run[k])),
                       float(min(p_run[k], 1.0)))
        for k in range(n.size)
    )
    hits = np.flatnonzero(p_run <= alpha)
    stopped = int(hits[0]) if hits.size else None
    return SequentialResult(looks, stopped is not None, stopped, method, error)


def msprt(
    looks: Sequence[tuple[ArmEstimate | Moments, ArmEstimate | Moments]],
    *,
    tau: float,
    alpha: float = 0.05,
    estimator: Callable[[Moments], ArmEstimate] = mean_estimate,
) -> SequentialResult:
    """Mixture sequential probability ratio test on ``treatment - control``.

    Args:
        looks: Cumulative ``(control, treatment)`` estimates (or moments) at each look, in
            time order.
        tau: Standard deviation of the normal mixing distribution on the effect (absolute
            scale); choose it near the effect sizes you expect (e.g. the MDE).
        alpha: Level: ``P(ever rejecting | no effect) <= alpha``.
        estimator: Turns moments into estimates (default: mean of ``"y"``).

    Returns:
        Always-valid p-values and intervals per look.

    References:
        Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2022). Always valid inference.
        Operations Research 70(3), eq. (11); Robbins (1970).
    """
    if not tau > 0:
        raise ValueError("mSPRT needs a positive mixing standard deviation tau")
    n, diff, var, error = _stack(looks, estimator)
    p, lo, hi = mixture_arrays(diff, var, tau**2, alpha)
    return _running(n, diff, p, lo, hi, alpha, "msprt", error)


def cs_rho(tuning_n: float, alpha: float) -> float:
    """Mixing parameter ``rho`` that makes the confidence sequence tightest at ``tuning_n``.

    References:
        Waudby-Smith, I., Arnold, D., Wu, J. J., Ramdas, A., Howard, S. R. (2024).
        Time-uniform central limit theory and asymptotic confidence sequences. Ann. Statist.
        (eq. for the optimal ``rho`` given a target time ``t*``); Howard, S. R., Ramdas, A.,
        McAuliffe, J., Sekhon, J. (2021). Ann. Statist. 49(2), 1055-1080, section 3.5.
    """
    log_a = -2.0 * math.log(alpha)
    return math.sqrt((log_a + math.log(log_a + 1.0)) / tuning_n)


def confidence_sequence(
    looks: Sequence[tuple[ArmEstimate | Moments, ArmEstimate | Moments]],
    *,
    tuning_n: float = 10_000.0,
    alpha: float = 0.05,
    estimator: Callable[[Moments], ArmEstimate] = mean_estimate,
) -> SequentialResult:
    """Asymptotic confidence sequence for ``treatment - control``.

    At each look ``C_k = diff_k -/+ sigma_k sqrt(2 (n_k rho^2 + 1) / (n_k^2 rho^2)
    log(sqrt(n_k rho^2 + 1) / alpha))`` with ``sigma_k^2 = n_k V_k`` (``n_k`` units in both
    arms), i.e. the normal mixture with ``tau^2 = sigma_k^2 rho^2``.

    Args:
        looks: Cumulative ``(control, treatment)`` estimates (or moments) at each look, in
            time order.
        tuning_n: Total units at which the sequence should be tightest (``t*``).
        alpha: Level: the sequence covers the effect at every look with probability
            ``>= 1 - alpha`` (asymptotically).
        estimator: Turns moments into estimates (default: mean of ``"y"``).

    Returns:
        Always-valid intervals per look, and the p-value ``1 / Lambda`` they invert.

    References:
        Waudby-Smith et al. (2024), Ann. Statist., Theorem 2.2 (eq. 14);
        Howard et al. (2021), Ann. Statist. 49(2), eq. (3.7).
    """
    n, diff, var, error = _stack(looks, estimator)
    rho = cs_rho(tuning_n, alpha)
    tau2 = n * var * rho**2
    p, lo, hi = mixture_arrays(diff, var, tau2, alpha)
    return _running(n, diff, p, lo, hi, alpha, "confidence sequence", error)
