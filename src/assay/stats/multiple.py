"""Multiple-comparison adjustment of p-values over a stated family."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from assay.stats.tests import Effect, interval_arrays, with_lift_interval

AdjustMethod = Literal["none", "bonferroni", "holm", "bh", "by"]


def significant(p_value: float, alpha: float) -> bool:
    """The one significance rule of assay: a finite p-value at or below ``alpha``.

    ``p <= alpha`` is the definition of a level-``alpha`` test by its p-value
    (``P(p <= alpha) <= alpha`` under the null) and the form of Benjamini-Hochberg's step-up
    rule and of always-valid p-values; fixed-horizon, adjusted, sequential and BH-interval
    decisions all use it. An interval dual to the test has the null value as an endpoint when
    ``p == alpha`` exactly.
    """
    return bool(np.isfinite(p_value) and p_value <= alpha)


def adjust_pvalues(
    pvalues: Sequence[float] | NDArray[np.float64], method: AdjustMethod
) -> NDArray[np.float64]:
    """Adjusted p-values over the family of non-NaN p-values.

    NaN p-values (cells that could not be computed) stay NaN and do not count in the family.
    Adjusted values are capped at 1.

    Args:
        pvalues: Raw p-values of the family (any order).
        method: ``"none"``, ``"bonferroni"``, ``"holm"`` (step-down FWER), ``"bh"``
            (Benjamini-Hochberg FDR) or ``"by"`` (Benjamini-Yekutieli FDR under dependence).

    Returns:
        Adjusted p-values in the input order; equal to statsmodels ``multipletests`` with
        ``bonferroni`` / ``holm`` / ``fdr_bh`` / ``fdr_by``.

    References:
        Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scand. J.
        Statist. 6, 65-70. Benjamini, Y., Hochberg, Y. (1995). JRSS B 57, 289-300.
        Benjamini, Y., Yekutieli, D. (2001). Ann. Statist. 29, 1165-1188 (``c(m) = sum 1/i``).
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError("adjust_pvalues takes a 1-d sequence of p-values")
    out = np.full(p.shape, np.nan)
    mask = ~np.isnan(p)
    family = p[mask]
    m = family.size
    if m == 0:
        return out
    if np.any((family < 0) | (family > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    out[mask] = _adjust(family, method)
    return out


def _adjust(p: NDArray[np.float64], method: str) -> NDArray[np.float64]:
    m = p.size
    if method == "none":
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    rank = np.arange(1, m + 1, dtype=np.float64)
    if method == "holm":
        adjusted = np.minimum(np.maximum.accumulate(ranked * (m - rank + 1)), 1.0)
    elif method in ("bh", "by"):
        scale = np.sum(1.0 / rank) if method == "by" else 1.0
        raw = ranked * m * scale / rank
        adjusted = np.minimum(np.minimum.accumulate(raw[::-1])[::-1], 1.0)
    else:
        raise ValueError(f"unknown adjustment method {method!r}")
    out = np.empty(m)
    out[order] = adjusted
    return out


@dataclass(frozen=True)
class AdjustedEffect:
    """An effect with its family-wise / false-discovery adjustment.

    Attributes:
        effect: The unadjusted effect.
        p_value_adjusted: Adjusted p-value (NaN when the effect has none).
        diff_ci: Interval for ``diff`` at the adjusted level.
        rel_lift_ci: Interval for ``rel_lift`` at the adjusted level, by the effect's
            ``rel_lift_method``.
        interval_alpha: The per-interval alpha used.
        method: The adjustment.
    """

    effect: Effect
    p_value_adjusted: float
    diff_ci: tuple[float, float]
    rel_lift_ci: tuple[float, float]
    interval_alpha: float
    method: str


def interval_alpha(pvalues: Sequence[float] | NDArray[np.float64], method: AdjustMethod,
                   alpha: float = 0.05) -> float:
    """Per-interval alpha that makes the family's intervals valid under ``method``.

    ``bonferroni`` and ``holm``: ``alpha / m`` (simultaneous Bonferroni intervals; Holm has no
    simple compatible intervals, so it reports Bonferroni's). ``bh``: ``R alpha / m`` with ``R``
    the number of BH rejections at ``alpha`` (at least 1), the false-coverage-rate intervals of
    Benjamini & Yekutieli (2005); ``by``: the same with ``alpha / c(m)``. ``none``: ``alpha``.

    References:
        Benjamini, Y., Yekutieli, D. (2005). False discovery rate-adjusted multiple confidence
        intervals for selected parameters. JASA 100(469), 71-81, Definition 1 and Theorem 1.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    p = p[~np.isnan(p)]
    m = p.size
    if method == "none" or m == 0:
        return alpha
    if method in ("bonferroni", "holm"):
        return alpha / m
    rejected = sum(significant(float(q), alpha) for q in adjust_pvalues(p, method))
    scale = float(np.sum(1.0 / np.arange(1, m + 1))) if method == "by" else 1.0
    return max(rejected, 1) * alpha / (m * scale)


def adjust_effects(effects: Sequence[Effect], method: AdjustMethod, alpha: float = 0.05
                   ) -> list[AdjustedEffect]:
    """Adjust a stated family of effects (metrics x variants, optionally x segments).

    The family is exactly the effects passed; effects without a p-value (data problems) are
    not counted. Each keeps its own test's alternative and degrees of freedom.

    Args:
        effects: The family, flattened in any order.
        method: ``"none"``, ``"bonferroni"``, ``"holm"``, ``"bh"`` or ``"by"``.
        alpha: Family level (FWER for Bonferroni/Holm, FDR / FCR for BH/BY).

    Returns:
        One adjusted effect per input, same order.

    References:
        See :func:`adjust_pvalues` and :func:`interval_alpha`.
    """
    p = np.array([e.p_value for e in effects], dtype=np.float64)
    adjusted = adjust_pvalues(p, method)
    level = interval_alpha(p, method, alpha)
    out = []
    for e, p_adj in zip(effects, adjusted, strict=True):
        alt = e.alternative if e.alternative in ("two-sided", "greater", "less") else "two-sided"
        d_lo, d_hi = interval_arrays(e.diff, e.diff_se, e.df, level, alt)  # type: ignore[arg-type]
        lift = with_lift_interval(e, e.rel_lift_method, level)  # type: ignore[arg-type]
        out.append(AdjustedEffect(e, float(p_adj), (float(d_lo), float(d_hi)),
                                  lift.rel_lift_ci, level, method))
    return out
