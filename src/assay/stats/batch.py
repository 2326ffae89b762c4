"""Vectorised evaluation of many cells (metric x variant x segment) at once.

The scalar API (:func:`~assay.stats.estimates.mean_estimate`, :func:`~assay.stats.tests.compare`)
is the reference; these array twins compute the same numbers for thousands of cells in one numpy
pass (tests check they agree cell by cell). Inputs are the contract's columns stacked as arrays:
one element per cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from assay.stats.codes import ErrorCode
from assay.stats.moments import FloatArray
from assay.stats.tests import Alternative, Effect, compare_arrays, welch_df

Codes = NDArray[np.object_]


def _arr(a: FloatArray | float) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


@dataclass(frozen=True)
class ArmArrays:
    """Per-cell arm estimates (the array twin of :class:`~assay.stats.estimates.ArmEstimate`).

    Attributes:
        point: Points.
        variance: Variances of the points.
        n: Units.
        df: Degrees of freedom (``inf`` for delta-method estimates).
        error: ``None`` or an :class:`ErrorCode` per cell.
    """

    point: FloatArray
    variance: FloatArray
    n: FloatArray
    df: FloatArray
    error: Codes


def _count_codes(n: FloatArray) -> Codes:
    codes = np.full(n.shape, None, dtype=object)
    codes[n < 2] = ErrorCode.TOO_FEW_UNITS
    codes[n <= 0] = ErrorCode.ZERO_UNITS
    return codes


def mean_arrays(n: FloatArray, sum_y: FloatArray, sum_yy: FloatArray) -> ArmArrays:
    """Sample means and ``s^2 / n`` per cell from ``n``, ``sum y`` and ``sum y^2``."""
    n, s, ss = _arr(n), _arr(sum_y), _arr(sum_yy)
    codes = _count_codes(n)
    ok = codes == None  # noqa: E711 (elementwise comparison on an object array)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s / n
        var = np.maximum((ss - s * mean) / (n - 1), 0.0) / n
    nan = np.nan
    return ArmArrays(np.where(ok, mean, nan), np.where(ok, var, nan), n,
                     np.where(ok, n - 1, nan), codes)


def ratio_arrays(n: FloatArray, s_num: FloatArray, s_den: FloatArray, ss_nn: FloatArray,
                 ss_nd: FloatArray, ss_dd: FloatArray) -> ArmArrays:
    """Ratios of sums and their delta-method variances per cell (see ``ratio_estimate``)."""
    n, sn, sd, snn, snd, sdd = (_arr(a) for a in (n, s_num, s_den, ss_nn, ss_nd, ss_dd))
    codes = _count_codes(n)
    codes[(codes == None) & (sd == 0)] = ErrorCode.DENOMINATOR_ZERO  # noqa: E711
    ok = codes == None  # noqa: E711
    with np.errstate(divide="ignore", invalid="ignore"):
        mn, md = sn / n, sd / n
        v_nn = np.maximum((snn - sn * mn) / (n - 1), 0.0)
        v_dd = np.maximum((sdd - sd * md) / (n - 1), 0.0)
        c_nd = (snd - sn * md) / (n - 1)
        var = (v_nn / md**2 - 2 * mn * c_nd / md**3 + mn**2 * v_dd / md**4) / n
        point = sn / sd
    nan = np.nan
    return ArmArrays(np.where(ok, point, nan), np.where(ok, np.maximum(var, 0.0), nan), n,
                     np.full(n.shape, np.inf), codes)


@dataclass(frozen=True)
class EffectBatch:
    """Effects of many cells as arrays (the array twin of :class:`~assay.stats.tests.Effect`)."""

    values: dict[str, FloatArray]
    error: Codes
    method: str
    alternative: str

    def __len__(self) -> int:
        return int(self.error.size)

    def effect(self, i: int) -> Effect:
        """The scalar :class:`Effect` of cell ``i``."""
        v = {k: float(a[i]) for k, a in self.values.items()}
        return Effect(v["diff"], v["diff_se"], (v["diff_lo"], v["diff_hi"]), v["rel_lift"],
                      v["rel_lift_se"], (v["rel_lift_lo"], v["rel_lift_hi"]), v["statistic"],
                      v["df"], v["p_value"], self.method, self.alternative, self.error[i])

    def to_effects(self) -> list[Effect]:
        """Every cell as an :class:`Effect`."""
        return [self.effect(i) for i in range(len(self))]


def compare_batch(
    control: ArmArrays,
    treatment: ArmArrays,
    *,
    alpha: float = 0.05,
    test: Literal["welch", "z"] = "welch",
    alternative: Alternative = "two-sided",
    margin: FloatArray | float = 0.0,
) -> EffectBatch:
    """:func:`~assay.stats.tests.compare` for every cell at once (same numbers, same codes)."""
    df = (welch_df(control.variance, control.df, treatment.variance, treatment.df)
          if test == "welch" else np.full(control.point.shape, np.inf))
    values = compare_arrays(control.point, control.variance, treatment.point, treatment.variance,
                            df, alpha=alpha, alternative=alternative, margin=margin)
    codes = np.where(control.error == None, treatment.error, control.error)  # noqa: E711
    free = codes == None  # noqa: E711
    codes[free & ~(values["diff_se"] > 0)] = ErrorCode.ZERO_VARIANCE
    codes[(codes == None) & np.isnan(values["rel_lift"])] = ErrorCode.CONTROL_MEAN_ZERO  # noqa: E711
    arm_failed = ~free
    values = {k: np.where(arm_failed, np.nan, np.asarray(a, dtype=np.float64))
              for k, a in values.items()}
    return EffectBatch(values, codes, "welch" if test == "welch" else "z", alternative)
