"""Sample ratio mismatch: do the arms' unit counts match the intended split?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from assay.stats.codes import ErrorCode


@dataclass(frozen=True)
class SrmResult:
    """Chi-square goodness-of-fit of observed arm counts against intended weights.

    Attributes:
        statistic: Pearson's ``sum (o - e)^2 / e``.
        df: Number of arms minus one.
        p_value: ``P(chi2_df >= statistic)``; a small value means the split is broken.
        observed: Observed counts per arm.
        expected: Expected counts per arm, ``total * w_i / sum w``.
        error: ``NO_DATA`` when nothing was observed (numbers NaN).
    """

    statistic: float
    df: int
    p_value: float
    observed: tuple[float, ...]
    expected: tuple[float, ...]
    error: ErrorCode | None = None


def srm_test(observed: Sequence[float], weights: Sequence[float]) -> SrmResult:
    """Pearson chi-square test of the arm counts against the intended weights (any arms).

    Args:
        observed: Units per arm.
        weights: Intended traffic weights per arm (any positive scale, e.g. 50/50 or 1/1).

    Returns:
        The test result; equals ``scipy.stats.chisquare(observed, expected)``.

    Raises:
        ValueError: Fewer than two arms, mismatched lengths, or a non-positive weight (a spec
            bug, not a data problem).

    References:
        Pearson, K. (1900). On the criterion that a given system of deviations ... Phil. Mag.
        50(302), 157-175. Fabijan, A. et al. (2019). Diagnosing sample ratio mismatch in online
        controlled experiments. KDD 2019.
    """
    obs = np.asarray(observed, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if obs.ndim != 1 or obs.shape != w.shape or obs.size < 2:
        raise ValueError("srm_test needs the same number (>= 2) of observed counts and weights")
    if np.any(w <= 0) or not np.all(np.isfinite(w)):
        raise ValueError(f"SRM weights must be positive and finite, got {list(weights)}")
    total = float(obs.sum())
    df = obs.size - 1
    if total <= 0:
        nan = float("nan")
        return SrmResult(nan, df, nan, tuple(obs.tolist()), tuple(np.zeros_like(w).tolist()),
                         ErrorCode.NO_DATA)
    expected = total * w / w.sum()
    statistic = float(np.sum((obs - expected) ** 2 / expected))
    # chdtrc is the chi-square survival function scipy.stats.chi2.sf evaluates, without the
    # half-second import of scipy.stats.
    p_value = float(special.chdtrc(df, statistic))
    return SrmResult(statistic, df, p_value, tuple(obs.tolist()), tuple(expected.tolist()))
