"""Multiple-comparison adjustment of p-values over a stated family."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

AdjustMethod = Literal["none", "bonferroni", "holm", "bh", "by"]


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
