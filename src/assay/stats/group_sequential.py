"""Group sequential designs with Lan-DeMets alpha spending over pre-registered looks.

The boundary at each look is found by recursive numerical integration of the joint distribution
of the sequence of z statistics (a Brownian motion observed at the information fractions
``t_1 < ... < t_K``): the density of ``S_k = Z_k sqrt(t_k)`` on the continuation region is
propagated look to look on a Simpson grid and the boundary ``c_k`` solves
``P(continue to k-1, cross at k) = alpha(t_k) - alpha(t_{k-1})``.

References:
    Lan, K. K. G., DeMets, D. L. (1983). Discrete sequential boundaries for clinical trials.
    Biometrika 70(3), 659-663 (spending functions, eq. for ``alpha_1`` and ``alpha_2``).
    Armitage, P., McPherson, C. K., Rowe, B. C. (1969). Repeated significance tests on
    accumulating data. JRSS A 132, 235-244 (the recursion).
    Jennison, C., Turnbull, B. W. (2000). Group Sequential Methods with Applications to
    Clinical Trials, chapter 19 (numerical computation) and chapter 7 (error spending).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize

from assay.stats import normal
from assay.stats.codes import ErrorCode
from assay.stats.estimates import ArmEstimate, as_estimates, mean_estimate
from assay.stats.moments import FloatArray, Moments

Spending = Literal["obf", "pocock"]
Sides = Literal["two-sided", "greater", "less"]
_TAIL = 10.0  # standard deviations kept below the lower edge of a one-sided grid


def spending_function(t: FloatArray | float, alpha: float, kind: Spending) -> FloatArray:
    """Cumulative type I error spent by information fraction ``t``.

    ``"obf"``: ``2 - 2 Phi(z_{1-alpha/2} / sqrt(t))`` (O'Brien-Fleming type);
    ``"pocock"``: ``alpha log(1 + (e - 1) t)`` (Pocock type).

    References:
        Lan, K. K. G., DeMets, D. L. (1983). Biometrika 70, 659-663, eq. (2.1)-(2.2).
    """
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    if kind == "obf":
        z = normal.ppf(1 - alpha / 2)
        with np.errstate(divide="ignore"):
            return np.where(t > 0, 2.0 - 2.0 * normal.cdf(z / np.sqrt(t)), 0.0)
    if kind == "pocock":
        return np.asarray(alpha * np.log1p((math.e - 1.0) * t), dtype=np.float64)
    raise ValueError(f"unknown spending function {kind!r}")


def _simpson(lo: float, hi: float, step: float) -> tuple[FloatArray, FloatArray]:
    """Grid on ``[lo, hi]`` and Simpson weights, with spacing at most ``step``."""
    m = max(math.ceil((hi - lo) / step), 2)
    m += m % 2
    grid = np.linspace(lo, hi, m + 1)
    w = np.ones(m + 1)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return grid, w * (hi - lo) / (3.0 * m)


@dataclass
class _State:
    """Sub-density of ``S_k`` on the continuation region (grid points times quadrature weights)."""

    grid: FloatArray
    mass: FloatArray  # density * weight at each grid point
    t: float


def _exit_probs(state: _State | None, t: float, c: float, drift: float, lower: bool
                ) -> tuple[float, float]:
    """Probability of crossing ``+c`` (and ``-c`` when ``lower``) at fraction ``t``."""
    hi = c * math.sqrt(t)
    if state is None:
        mean, sd = drift * t, math.sqrt(t)
        up = float(normal.sf((hi - mean) / sd))
        low = float(normal.cdf((-hi - mean) / sd)) if lower else 0.0
        return up, low
    delta = t - state.t
    shifted, sd = state.grid + drift * delta, math.sqrt(delta)
    up = float(state.mass @ normal.sf((hi - shifted) / sd))
    low = float(state.mass @ normal.cdf((-hi - shifted) / sd)) if lower else 0.0
    return up, low


def _advance(state: _State | None, t: float, c: float, drift: float, lower: bool) -> _State:
    """Density of ``S`` at ``t`` restricted to the continuation region."""
    hi = c * math.sqrt(t) if math.isfinite(c) else drift * t + _TAIL * math.sqrt(t)
    delta = t if state is None else t - state.t
    lo = -hi if lower else drift * t - _TAIL * math.sqrt(t)
    lo = min(lo, hi - 1e-9)
    grid, w = _simpson(lo, hi, min(math.sqrt(delta) / 10.0, 0.05))
    if state is None:
        dens = normal.pdf((grid - drift * t) / math.sqrt(t)) / math.sqrt(t)
    else:
        sd = math.sqrt(delta)
        kernel = normal.pdf((grid[:, None] - state.grid[None, :] - drift * delta) / sd) / sd
        dens = kernel @ state.mass
    return _State(grid, dens * w, t)


@dataclass(frozen=True)
class Boundaries:
    """Efficacy boundaries of a group sequential design on the z scale.

    Attributes:
        fractions: Information fractions of the looks.
        z: Boundary at each look (reject when ``|Z| >= z`` two-sided, ``Z >= z`` one-sided;
            ``inf`` where no alpha is spent).
        nominal_alpha: The fixed-sample p-value threshold equivalent to each boundary.
        cumulative_alpha: Alpha spent up to and including each look.
        alpha: Overall level.
        spending: ``"obf"`` or ``"pocock"``.
        alternative: ``"two-sided"`` or a one-sided alternative.
    """

    fractions: tuple[float, ...]
    z: tuple[float, ...]
    nominal_alpha: tuple[float, ...]
    cumulative_alpha: tuple[float, ...]
    alpha: float
    spending: str
    alternative: str


def _validate_fractions(fractions: Sequence[float]) -> FloatArray:
    t = np.asarray(fractions, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or np.any(np.diff(t) <= 0) or t[0] <= 0 or t[-1] > 1 + 1e-12:
        raise ValueError(f"information fractions must increase within (0, 1], got {list(t)}")
    return np.minimum(t, 1.0)


def gs_boundaries(
    fractions: Sequence[float],
    alpha: float = 0.05,
    spending: Spending = "obf",
    alternative: Sides = "two-sided",
) -> Boundaries:
    """Lan-DeMets efficacy boundaries at the given information fractions.

    Args:
        fractions: Information fraction of each look, increasing, the last usually 1.
        alpha: Overall type I error.
        spending: ``"obf"`` (O'Brien-Fleming type) or ``"pocock"`` (Pocock type).
        alternative: ``"two-sided"`` (symmetric boundaries) or one-sided.

    Returns:
        The boundaries. Five equally spaced looks, two-sided alpha 0.05, OBF type give
        4.877, 3.357, 2.680, 2.290, 2.031 (as the Lan-DeMets programs of Reboussin et al. 2000
        and gsDesign's ``sfLDOF``).

    References:
        Lan & DeMets (1983); Jennison & Turnbull (2000), sections 7.2 and 19.2.
    """
    t = _validate_fractions(fractions)
    lower = alternative == "two-sided"
    # Two-sided: each side spends the one-sided function at alpha / 2 (symmetric boundaries;
    # the convention of Lan-DeMets' ldbounds and gsDesign, giving 4.877 ... 2.031 for OBF, K=5).
    spent = 2.0 * spending_function(t, alpha / 2, spending) if lower else spending_function(
        t, alpha, spending)
    z: list[float] = []
    state: _State | None = None
    prev = 0.0
    for k, tk in enumerate(t):
        target = float(spent[k] - prev)
        c = _solve_boundary(state, float(tk), target, lower)
        z.append(c)
        up, low = _exit_probs(state, float(tk), c, 0.0, lower) if math.isfinite(c) else (0.0, 0.0)
        prev += up + low
        if k + 1 < t.size:
            state = _advance(state, float(tk), c, 0.0, lower)
    nominal = [float((2 if lower else 1) * normal.sf(c)) for c in z]
    return Boundaries(tuple(t.tolist()), tuple(z), tuple(nominal), tuple(spent.tolist()), alpha,
                      spending, alternative)


def _solve_boundary(state: _State | None, t: float, target: float, lower: bool) -> float:
    if target <= 1e-15:
        return math.inf

    def excess(c: float) -> float:
        up, low = _exit_probs(state, t, c, 0.0, lower)
        return up + low - target

    if excess(0.0) < 0:  # cannot spend that much (continuation mass too small): reject all
        return 0.0
    return float(optimize.brentq(excess, 0.0, 40.0, xtol=1e-12, rtol=1e-14))


def rejection_probability(bounds: Boundaries, drift: float) -> float:
    """Probability of crossing an efficacy boundary when ``E[Z at t=1] = drift``.

    Args:
        bounds: The design.
        drift: Expected z statistic at full information (``effect / se_at_full_information``).

    Returns:
        Power of the design at that drift (under ``drift = 0``: the alpha actually spent).
    """
    lower = bounds.alternative == "two-sided"
    state: _State | None = None
    total = 0.0
    for k, (tk, c) in enumerate(zip(bounds.fractions, bounds.z, strict=True)):
        if math.isfinite(c):
            up, low = _exit_probs(state, tk, c, drift, lower)
            total += up + low
        if k + 1 < len(bounds.fractions):
            state = _advance(state, tk, c, drift, lower)
    return total


def inflation_factor(bounds: Boundaries, power: float = 0.8) -> float:
    """Maximum sample size of the design relative to the fixed-sample design.

    Solves ``rejection_probability(bounds, drift) = power`` and returns
    ``(drift / (z_{1-alpha/s} + z_{power}))^2`` (``s = 2`` two-sided, 1 one-sided).

    References:
        Jennison & Turnbull (2000), section 2.5 (the inflation factor ``R``).
    """
    sides = 2 if bounds.alternative == "two-sided" else 1
    fixed = normal.ppf(1 - bounds.alpha / sides) + normal.ppf(power)
    drift = optimize.brentq(lambda d: rejection_probability(bounds, d) - power, 0.0, 3 * fixed + 5,
                            xtol=1e-12)
    return float((drift / fixed) ** 2)


@dataclass(frozen=True)
class GsLook:
    """One interim analysis of a group sequential design."""

    fraction: float
    statistic: float
    boundary: float
    crossed: bool


@dataclass(frozen=True)
class GsResult:
    """Outcome of a group sequential test over the looks seen so far.

    Attributes:
        looks: Every look (fraction, z statistic, boundary, crossed).
        rejected: Whether a boundary was crossed at some look.
        stopped_at: Index of the first look that crossed, or None.
        boundaries: The design evaluated at the observed fractions.
        error: A data problem at some look (numbers after it are NaN).
    """

    looks: tuple[GsLook, ...]
    rejected: bool
    stopped_at: int | None
    boundaries: Boundaries
    error: ErrorCode | None = None


def group_sequential_test(
    looks: Sequence[tuple[ArmEstimate | Moments, ArmEstimate | Moments]],
    *,
    fractions: Sequence[float] | None = None,
    planned_looks: int | None = None,
    alpha: float = 0.05,
    spending: Spending = "obf",
    alternative: Sides = "two-sided",
    boundaries: Boundaries | None = None,
    estimator: Callable[[Moments], ArmEstimate] = mean_estimate,
) -> GsResult:
    """Test ``treatment - control`` at each pre-registered look against Lan-DeMets boundaries.

    Args:
        looks: Cumulative ``(control, treatment)`` estimates (or moments) at each look so far.
        fractions: Information fraction of each look seen so far; default ``k / planned_looks``.
        planned_looks: Number of looks pre-registered (default: the looks given, i.e. the last
            one is final).
        alpha: Overall type I error.
        spending: ``"obf"`` or ``"pocock"``.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
        boundaries: Precomputed :func:`gs_boundaries` for these fractions (saves the numerical
            integration when many cells share one design); overrides the design arguments.
        estimator: Turns moments into estimates (default: mean of ``"y"``).

    Returns:
        Statistic and boundary at each look and whether (and when) the test rejected.

    References:
        Lan & DeMets (1983); Jennison & Turnbull (2000), chapter 7.
    """
    if not looks:
        raise ValueError("group_sequential_test needs at least one look")
    k_planned = planned_looks or len(looks)
    t = list(fractions) if fractions is not None else [
        (k + 1) / k_planned for k in range(len(looks))]
    if len(t) != len(looks):
        raise ValueError("one information fraction per look")
    bounds = boundaries or gs_boundaries(t, alpha, spending, "two-sided"
                                         if alternative == "two-sided" else "greater")
    if len(bounds.z) < len(looks):
        raise ValueError("the boundaries have fewer looks than the data")
    out: list[GsLook] = []
    stopped: int | None = None
    error: ErrorCode | None = None
    for k, (control, treatment) in enumerate(as_estimates(looks, estimator)):
        z, err = _z(control, treatment)
        error = error or err
        stat = -z if alternative == "less" else z
        crossed = bool((abs(stat) if alternative == "two-sided" else stat) >= bounds.z[k])
        if crossed and stopped is None:
            stopped = k
        out.append(GsLook(bounds.fractions[k], z, bounds.z[k], crossed))
    return GsResult(tuple(out), stopped is not None, stopped, bounds, error)


def _z(control: ArmEstimate, treatment: ArmEstimate) -> tuple[float, ErrorCode | None]:
    for arm in (control, treatment):
        if arm.error is not None:
            return math.nan, arm.error
    var = control.variance + treatment.variance
    if not var > 0:
        return math.nan, ErrorCode.ZERO_VARIANCE
    return (treatment.point - control.point) / math.sqrt(var), None
