"""Fixed-horizon comparisons of a treatment arm against control.

:func:`compare` takes two :class:`~assay.stats.estimates.ArmEstimate` (of any kind: mean, ratio,
CUPED-adjusted ...) and returns an :class:`Effect` with the absolute difference, the relative
lift (delta method), a test statistic, degrees of freedom and a p-value. :func:`proportion_test`
is the two-proportion z-test. Both are thin wrappers over vectorised array functions
(:func:`compare_arrays`) that evaluate thousands of cells at once.

Conventions: ``margin`` is on the absolute-difference scale and is the null value of the test,
``H0: diff = margin`` (two-sided), ``diff <= margin`` (``"greater"``: superiority when
``margin >= 0``, non-inferiority when ``margin < 0``), ``diff >= margin`` (``"less"``). Intervals
match the alternative: two-sided intervals for ``"two-sided"``, one-sided bounds (the other end
infinite) for ``"greater"`` / ``"less"``, so that the interval excludes ``margin`` exactly when
``p < alpha``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy import special

from assay.stats.codes import ErrorCode
from assay.stats.estimates import ArmEstimate
from assay.stats.moments import FloatArray, Moments

Alternative = Literal["two-sided", "greater", "less"]
TestKind = Literal["welch", "z"]
LiftInterval = Literal["delta", "fieller", "log"]
LIFT_INTERVALS = ("delta", "fieller", "log")
NAN = float("nan")
Floats = FloatArray | float


@dataclass(frozen=True)
class Effect:
    """Treatment versus control.

    Attributes:
        diff: ``treatment - control``.
        diff_se: Standard error of ``diff``.
        diff_ci: Interval for ``diff`` at level ``1 - alpha`` (one-sided for one-sided tests).
        rel_lift: ``treatment / control - 1``.
        rel_lift_se: Delta-method standard error of ``rel_lift``.
        rel_lift_ci: Interval for ``rel_lift`` on the same ``alpha`` and distribution.
        statistic: ``(diff - margin) / diff_se``.
        df: Degrees of freedom of the reference t distribution (``inf``: normal).
        p_value: p-value of the test against ``margin`` under ``alternative``.
        method: Name of the test (``"welch"``, ``"z"``, ``"two-proportion z"`` ...).
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
        rel_lift_method: How ``rel_lift_ci`` was computed: ``"delta"`` (delta method),
            ``"fieller"`` (Fieller's interval; ``(-inf, inf)`` when the control mean is not
            distinguishable from zero) or ``"log"`` (delta method on ``log(t / c)``, then
            exponentiated; NaN unless both points are positive).
        arms: ``(control point, its variance, treatment point, its variance)`` the effect was
            computed from (None for an effect that could not be computed).
        error: Data problem. ``CONTROL_MEAN_ZERO`` leaves every ``diff`` field valid and only the
            ``rel_lift`` fields NaN; ``ZERO_VARIANCE`` keeps ``diff`` and ``rel_lift`` points
            (exact) with NaN test numbers; every other code (``NON_FINITE`` for an arm whose
            point or variance is NaN or infinite) makes all numbers NaN.
    """

    diff: float
    diff_se: float
    diff_ci: tuple[float, float]
    rel_lift: float
    rel_lift_se: float
    rel_lift_ci: tuple[float, float]
    statistic: float
    df: float
    p_value: float
    method: str
    alternative: str
    error: ErrorCode | None = None
    rel_lift_method: str = "delta"
    arms: tuple[float, float, float, float] | None = None


def welch_df(
    var_c: Floats, df_c: Floats, var_t: Floats, df_t: Floats
) -> FloatArray:
    """Welch-Satterthwaite degrees of freedom of ``var_c + var_t``.

    ``(v_c + v_t)^2 / (v_c^2 / df_c + v_t^2 / df_t)``; an arm with ``df = inf`` contributes no
    term, so two delta-method arms give ``inf`` (a z-test).

    References:
        Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance
        components. Biometrics Bulletin 2(6), 110-114. Welch (1947), eq. (26).
    """
    var_c, df_c, var_t, df_t = (np.asarray(a, dtype=np.float64) for a in (var_c, df_c, var_t, df_t))
    with np.errstate(divide="ignore", invalid="ignore"):
        term_c = np.where(np.isinf(df_c), 0.0, var_c**2 / df_c)
        term_t = np.where(np.isinf(df_t), 0.0, var_t**2 / df_t)
        denom = term_c + term_t
        return np.where(denom > 0, (var_c + var_t) ** 2 / denom, np.inf)


def t_quantile(p: Floats, df: Floats) -> FloatArray:
    """Quantile of Student's t (``df = inf``: the standard normal), vectorised."""
    return np.asarray(special.stdtrit(df, p), dtype=np.float64)


def p_value_arrays(statistic: Floats, df: Floats, alternative: Alternative) -> FloatArray:
    """p-value of a t (``df`` finite) or normal (``df = inf``) statistic."""
    # scipy.special.stdtr is what scipy.stats.t evaluates (df = inf gives the normal), without
    # the per-call overhead of the distribution objects (~5 us instead of ~100 us).
    if alternative == "two-sided":
        return np.asarray(2.0 * special.stdtr(df, -np.abs(statistic)), dtype=np.float64)
    if alternative == "greater":
        return np.asarray(special.stdtr(df, -np.asarray(statistic)), dtype=np.float64)
    if alternative == "less":
        return np.asarray(special.stdtr(df, statistic), dtype=np.float64)
    raise ValueError(f"unknown alternative {alternative!r}")


def interval_arrays(
    point: Floats, se: Floats, df: Floats, alpha: float, alternative: Alternative
) -> tuple[FloatArray, FloatArray]:
    """Interval ``point -/+ q se`` matching the alternative (one-sided bounds are infinite)."""
    point, se = np.asarray(point, dtype=np.float64), np.asarray(se, dtype=np.float64)
    if alternative == "two-sided":
        q = t_quantile(1.0 - alpha / 2.0, df)
        return point - q * se, point + q * se
    q = t_quantile(1.0 - alpha, df)
    inf = np.full_like(point, np.inf)
    if alternative == "greater":
        return point - q * se, inf
    if alternative == "less":
        return -inf, point + q * se
    raise ValueError(f"unknown alternative {alternative!r}")


def compare_arrays(
    c_point: Floats,
    c_var: Floats,
    t_point: Floats,
    t_var: Floats,
    df: Floats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    margin: FloatArray | float = 0.0,
    test_var: Floats | None = None,
) -> dict[str, FloatArray]:
    """Vectorised core of :func:`compare`: every argument broadcasts over cells.

    Args:
        c_point: Control points.
        c_var: Variances of the control points.
        t_point: Treatment points.
        t_var: Variances of the treatment points.
        df: Degrees of freedom of the reference distribution per cell (``inf`` for z).
        alpha: Level of the intervals.
        alternative: Alternative hypothesis.
        margin: Null value of ``diff``.
        test_var: Variance of ``diff`` under the null for the statistic, when it differs from
            the one used for intervals (the pooled two-proportion test); default ``c_var + t_var``.

    Returns:
        Arrays keyed like the fields of :class:`Effect` (intervals as ``*_lo`` / ``*_hi``).

    References:
        Deng, A., Knoblich, U., Lu, J. (2018), KDD, section 3 (relative lift:
        ``Var(t/c) ~ var_t / c^2 + t^2 var_c / c^4``).
    """
    c_point, c_var, t_point, t_var = (
        np.asarray(a, dtype=np.float64) for a in (c_point, c_var, t_point, t_var)
    )
    diff = t_point - c_point
    diff_se = np.sqrt(c_var + t_var)
    null_se = diff_se if test_var is None else np.sqrt(np.asarray(test_var, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.where(null_se > 0, (diff - margin) / null_se, np.nan)
        rel = np.where(c_point != 0, t_point / c_point - 1.0, np.nan)
        rel_se = np.sqrt(t_var / c_point**2 + t_point**2 * c_var / c_point**4)
        rel_se = np.where(c_point != 0, rel_se, np.nan)
    p_value = p_value_arrays(statistic, df, alternative)
    diff_lo, diff_hi = interval_arrays(diff, diff_se, df, alpha, alternative)
    rel_lo, rel_hi = interval_arrays(rel, rel_se, df, alpha, alternative)
    ok = diff_se > 0
    diff_lo, diff_hi, rel_lo, rel_hi = (
        np.where(ok, arr, np.nan) for arr in (diff_lo, diff_hi, rel_lo, rel_hi)
    )
    return {
        "diff": diff, "diff_se": diff_se, "diff_lo": diff_lo, "diff_hi": diff_hi,
        "rel_lift": rel, "rel_lift_se": rel_se, "rel_lift_lo": rel_lo, "rel_lift_hi": rel_hi,
        "statistic": statistic, "df": np.broadcast_to(df, diff.shape).astype(np.float64),
        "p_value": p_value,
    }


def fieller_arrays(
    c_point: Floats, c_var: Floats, t_point: Floats, t_var: Floats, df: Floats, alpha: float,
    alternative: Alternative = "two-sided",
) -> tuple[FloatArray, FloatArray]:
    """Fieller's interval for ``t / c - 1`` with independent arms, vectorised.

    The set of ``r`` with ``(t - r c)^2 <= q^2 (v_t + r^2 v_c)``: the roots of
    ``(c^2 - q^2 v_c) r^2 - 2 t c r + (t^2 - q^2 v_t)``. When ``c^2 <= q^2 v_c`` (control not
    distinguishable from zero) the set is unbounded and ``(-inf, inf)`` is returned. One-sided
    alternatives take one root (control mean assumed positive; NaN otherwise).

    References:
        Fieller, E. C. (1954). Some problems in interval estimation. JRSS B 16(2), 175-185.
        Franz, V. H. (2007). Ratios: a short guide to confidence limits and proper use,
        arXiv:0710.2024, eq. (8).
    """
    c, vc, t, vt = (np.asarray(a, dtype=np.float64) for a in (c_point, c_var, t_point, t_var))
    two = alternative == "two-sided"
    q = t_quantile(1.0 - (alpha / 2.0 if two else alpha), df)
    a = c**2 - q**2 * vc
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(np.maximum(q**2 * (vt * a + t**2 * vc), 0.0))
        lo = (t * c - root) / a - 1.0
        hi = (t * c + root) / a - 1.0
    bounded = a > 0
    lo = np.where(bounded, lo, -np.inf)
    hi = np.where(bounded, hi, np.inf)
    if not two:
        ok = c > 0
        if alternative == "greater":
            lo, hi = np.where(ok, lo, np.nan), np.where(ok, np.inf, np.nan)
        else:
            lo, hi = np.where(ok, -np.inf, np.nan), np.where(ok, hi, np.nan)
    return lo, hi


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")


def failed_effect(error: ErrorCode, method: str, alternative: str) -> Effect:
    """An effect that could not be computed."""
    return Effect(NAN, NAN, (NAN, NAN), NAN, NAN, (NAN, NAN), NAN, NAN, NAN, method, alternative,
                  error)


def effect_from_values(
    v: Mapping[str, float], method: str, alternative: str, error: ErrorCode | None
) -> Effect:
    """An :class:`Effect` from one cell of :func:`compare_arrays`' keys (as floats)."""
    return Effect(
        v["diff"], v["diff_se"], (v["diff_lo"], v["diff_hi"]),
        v["rel_lift"], v["rel_lift_se"], (v["rel_lift_lo"], v["rel_lift_hi"]),
        v["statistic"], v["df"], v["p_value"], method, alternative, error,
    )


def _effect_from(cell: dict[str, FloatArray], method: str, alternative: str) -> Effect:
    v = {k: float(np.asarray(a).reshape(-1)[0]) for k, a in cell.items()}
    error: ErrorCode | None = None
    if not v["diff_se"] > 0:
        error = ErrorCode.ZERO_VARIANCE
    elif np.isnan(v["rel_lift"]):
        error = ErrorCode.CONTROL_MEAN_ZERO
    return effect_from_values(v, method, alternative, error)


def compare(
    control: ArmEstimate,
    treatment: ArmEstimate,
    *,
    alpha: float = 0.05,
    test: TestKind = "welch",
    alternative: Alternative = "two-sided",
    margin: float = 0.0,
    lift_interval: LiftInterval = "delta",
) -> Effect:
    """Compare a treatment estimate with the control estimate.

    ``diff = t - c`` with ``se = sqrt(var_t + var_c)``; the statistic ``(diff - margin) / se``
    is referred to a t distribution with Welch-Satterthwaite df (``test="welch"``) or to the
    standard normal (``test="z"``). Relative lift ``t / c - 1`` has the delta-method standard
    error ``sqrt(var_t / c^2 + t^2 var_c / c^4)`` and an interval on the same distribution.

    Args:
        control: The control arm's estimate.
        treatment: The treatment arm's estimate.
        alpha: ``1 - alpha`` is the interval level; also the test level.
        test: ``"welch"`` or ``"z"``.
        alternative: ``"two-sided"``, ``"greater"`` (treatment better if higher) or ``"less"``.
        margin: Null value of ``diff`` (non-inferiority / superiority margin, absolute scale).
        lift_interval: ``"delta"`` (default), ``"fieller"`` or ``"log"`` for ``rel_lift_ci``.

    Returns:
        The effect; ``error`` set as documented on :class:`Effect`.

    References:
        Welch, B. L. (1947). Biometrika 34, 28-35. Deng, A., Knoblich, U., Lu, J. (2018).
        Applying the delta method in metric analytics. KDD 2018, section 3.
    """
    method = "welch" if test == "welch" else "z"
    if test not in ("welch", "z"):
        raise ValueError(f"unknown test {test!r}")
    _check_alpha(alpha)
    for arm in (control, treatment):
        if arm.error is not None:
            return failed_effect(arm.error, method, alternative)
    if not np.all(np.isfinite([control.point, control.variance, treatment.point,
                               treatment.variance])):
        return failed_effect(ErrorCode.NON_FINITE, method, alternative)
    df = (
        welch_df(control.variance, control.df, treatment.variance, treatment.df)
        if test == "welch"
        else np.inf
    )
    cell = compare_arrays(control.point, control.variance, treatment.point, treatment.variance,
                          np.asarray(df), alpha=alpha, alternative=alternative, margin=margin)
    arms = (control.point, control.variance, treatment.point, treatment.variance)
    effect = replace(_effect_from(cell, method, alternative), arms=arms)
    return with_lift_interval(effect, lift_interval, alpha)


def log_ratio_arrays(
    c_point: Floats, c_var: Floats, t_point: Floats, t_var: Floats, df: Floats, alpha: float,
    alternative: Alternative = "two-sided",
) -> tuple[FloatArray, FloatArray]:
    """Interval for ``t / c - 1`` from the delta method on the log scale, vectorised.

    ``log(t / c) -/+ q sqrt(v_t / t^2 + v_c / c^2)``, exponentiated, minus 1: never below -1
    and asymmetric like the ratio itself; NaN unless both points are positive.

    References:
        Kohavi, R., Tang, D., Xu, Y. (2020). Trustworthy Online Controlled Experiments,
        chapter 18 (relative differences); Deng, Knoblich & Lu (2018), section 3.
    """
    c, vc, t, vt = (np.asarray(a, dtype=np.float64) for a in (c_point, c_var, t_point, t_var))
    with np.errstate(divide="ignore", invalid="ignore"):
        positive = (c > 0) & (t > 0)
        log_ratio = np.where(positive, np.log(np.where(positive, t / c, 1.0)), np.nan)
        se = np.sqrt(vt / t**2 + vc / c**2)
    lo, hi = interval_arrays(log_ratio, se, df, alpha, alternative)
    return np.expm1(lo), np.expm1(hi)


def with_lift_interval(effect: Effect, method: LiftInterval, alpha: float) -> Effect:
    """``effect`` with its relative-lift interval by ``method`` at level ``alpha``.

    Used for the unadjusted interval and, at the per-interval level of a correction, for the
    adjusted one, so that both use the method the spec names.
    """
    if method not in LIFT_INTERVALS:
        raise ValueError(f"unknown lift interval {method!r}")
    if method == "delta":
        lo, hi = interval_arrays(effect.rel_lift, effect.rel_lift_se, effect.df, alpha,
                                 _alternative(effect))
        lo, hi = (np.where(effect.diff_se > 0, v, np.nan) for v in (lo, hi))
    elif effect.arms is None or effect.error is not None:
        return replace(effect, rel_lift_method=method)
    else:
        arrays = fieller_arrays if method == "fieller" else log_ratio_arrays
        lo, hi = arrays(*effect.arms, effect.df, alpha, _alternative(effect))
    return replace(effect, rel_lift_ci=(float(lo), float(hi)), rel_lift_method=method)


def _alternative(effect: Effect) -> Alternative:
    alt = effect.alternative
    return alt if alt in ("greater", "less") else "two-sided"  # type: ignore[return-value]


def proportion_arrays(
    n_c: Floats, s_c: Floats, n_t: Floats, s_t: Floats, **kwargs: object
) -> dict[str, FloatArray]:
    """Vectorised two-proportion z-test from counts and successes (see :func:`proportion_test`).

    Keyword arguments are passed to :func:`compare_arrays` (``alpha``, ``alternative``,
    ``margin``).
    """
    n_c, s_c, n_t, s_t = (np.asarray(a, dtype=np.float64) for a in (n_c, s_c, n_t, s_t))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_c, p_t = s_c / n_c, s_t / n_t
        pooled = (s_c + s_t) / (n_c + n_t)
        var_c, var_t = p_c * (1 - p_c) / n_c, p_t * (1 - p_t) / n_t
        test_var = pooled * (1 - pooled) * (1 / n_c + 1 / n_t)
    return compare_arrays(p_c, var_c, p_t, var_t, np.asarray(np.inf), test_var=test_var,
                          **kwargs)  # type: ignore[arg-type]


def proportion_test(
    control: Moments,
    treatment: Moments,
    *,
    var: str = "y",
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    margin: float = 0.0,
) -> Effect:
    """Two-proportion z-test: pooled standard error for the p-value, unpooled for intervals.

    ``z = (p_t - p_c - margin) / sqrt(p (1 - p) (1/n_c + 1/n_t))`` with ``p`` the pooled rate;
    the interval is the Wald interval ``diff -/+ z_q sqrt(p_c(1-p_c)/n_c + p_t(1-p_t)/n_t)``;
    relative lift uses the same unpooled variances in the delta method.

    Args:
        control: Moments of the control arm; ``var`` is a 0/1 per-unit variable.
        treatment: Moments of the treatment arm.
        var: The per-unit conversion indicator.
        alpha: Level of the test and intervals.
        alternative: Alternative hypothesis.
        margin: Null value of ``p_t - p_c``.

    Returns:
        The effect (``df = inf``); ``ZERO_UNITS`` for an empty arm, ``INVALID_PROPORTION`` for a
        rate outside [0, 1], ``ZERO_VARIANCE`` when the pooled rate is 0 or 1.

    References:
        Agresti, A. (2013). Categorical Data Analysis, 3rd ed., section 3.1.3 (Wald interval
        for ``pi_1 - pi_2``) and 3.1.4 (pooled z). Matches statsmodels ``proportions_ztest``
        and ``confint_proportions_2indep(method="wald")``.
    """
    method = "two-proportion z"
    _check_alpha(alpha)
    if control.n <= 0 or treatment.n <= 0:
        return failed_effect(ErrorCode.ZERO_UNITS, method, alternative)
    s_c, s_t = control.totals()[control.index(var)], treatment.totals()[treatment.index(var)]
    if not (0 <= s_c <= control.n and 0 <= s_t <= treatment.n):
        return failed_effect(ErrorCode.INVALID_PROPORTION, method, alternative)
    cell = proportion_arrays(control.n, s_c, treatment.n, s_t, alpha=alpha,
                             alternative=alternative, margin=margin)
    p_c, p_t = float(s_c / control.n), float(s_t / treatment.n)
    arms = (p_c, p_c * (1 - p_c) / control.n, p_t, p_t * (1 - p_t) / treatment.n)
    effect = replace(_effect_from(cell, method, alternative), arms=arms)
    if np.isnan(effect.statistic) and effect.error is None:
        # Pooled rate 0 or 1: the null variance is zero although the intervals exist.
        return replace(effect, error=ErrorCode.ZERO_VARIANCE)
    return effect


def compare_to_control(
    control: ArmEstimate,
    treatments: Mapping[str, ArmEstimate],
    **options: Any,
) -> dict[str, Effect]:
    """A/B/n: compare every treatment arm with the one control.

    Args:
        control: The control arm's estimate.
        treatments: Estimates of the other arms, by name.
        **options: Passed to :func:`compare` (``alpha``, ``test``, ``alternative``, ``margin``,
            ``lift_interval``).

    Returns:
        One effect per treatment; adjust the family with
        :func:`assay.stats.multiple.adjust_effects`.
    """
    return {name: compare(control, arm, **options) for name, arm in treatments.items()}
