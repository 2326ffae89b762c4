"""Vectorised evaluation of many cells (metric x variant x segment) at once.

The scalar API (:func:`~assay.stats.estimates.mean_estimate`, :func:`~assay.stats.tests.compare`)
is the reference; these array twins compute the same numbers for thousands of cells in one numpy
pass (tests check they agree cell by cell). Inputs are the contract's columns stacked as arrays:
one element per cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from assay.stats.codes import ErrorCode
from assay.stats.moments import (
    N_COLUMN,
    FloatArray,
    Moments,
    cross_column,
    shift_column,
    sum_column,
)
from assay.stats.tests import Alternative, Effect, compare_arrays, effect_from_values, welch_df

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
        return effect_from_values(v, self.method, self.alternative, self.error[i])

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
    finite = (np.isfinite(control.point) & np.isfinite(control.variance)
              & np.isfinite(treatment.point) & np.isfinite(treatment.variance))
    codes[(codes == None) & ~finite] = ErrorCode.NON_FINITE  # noqa: E711
    free = codes == None  # noqa: E711
    codes[free & ~(values["diff_se"] > 0)] = ErrorCode.ZERO_VARIANCE
    codes[(codes == None) & np.isnan(values["rel_lift"])] = ErrorCode.CONTROL_MEAN_ZERO  # noqa: E711
    arm_failed = ~free
    values = {k: np.where(arm_failed, np.nan, np.asarray(a, dtype=np.float64))
              for k, a in values.items()}
    return EffectBatch(values, codes, "welch" if test == "welch" else "z", alternative)


@dataclass(frozen=True)
class MomentArrays:
    """Moments of many cells stacked (the array twin of :class:`~assay.stats.moments.Moments`).

    Attributes:
        names: Variable names.
        n: Units per cell, shape ``(cells,)``.
        sums: ``sums[c, i]``, shape ``(cells, k)``.
        cross: ``cross[c, i, j]``, shape ``(cells, k, k)``.
    """

    names: tuple[str, ...]
    n: FloatArray
    sums: FloatArray
    cross: FloatArray

    @classmethod
    def from_columns(cls, names: Sequence[str], columns: Mapping[str, Any]) -> MomentArrays:
        """Read the contract's columns (``n``, ``s__v``, ``ss__a__b``) as arrays, one per cell.

        A missing value (SQL ``NULL`` over zero units) reads as zero, as in ``Moments.from_row``;
        shifted columns (``c__v``) are turned back into raw sums.
        """
        names = tuple(names)
        k = len(names)
        n = _column(columns, N_COLUMN)
        sums = np.stack([_column(columns, sum_column(v)) for v in names], axis=-1)
        cross = np.empty((n.size, k, k))
        for i, a in enumerate(names):
            for j in range(i, k):
                cross[:, i, j] = cross[:, j, i] = _column(columns, cross_column(a, names[j]))
        shift = np.stack([_column(columns, shift_column(v)) if shift_column(v) in columns
                          else np.zeros(n.size) for v in names], axis=-1)
        cross = (cross + sums[:, :, None] * shift[:, None, :] + shift[:, :, None] * sums[:, None, :]
                 + n[:, None, None] * shift[:, :, None] * shift[:, None, :])
        return cls(names, n, sums + n[:, None] * shift, cross)

    @classmethod
    def from_moments(cls, cells: Sequence[Moments]) -> MomentArrays:
        """Stack per-cell moments (all with the same variables)."""
        names = cells[0].names
        raw = [m.recentred(np.zeros(len(names))) for m in cells]  # the arrays hold raw sums
        return cls(names, np.array([m.n for m in cells], dtype=np.float64),
                   np.stack([m.sums for m in raw]), np.stack([m.cross for m in raw]))

    def __add__(self, other: MomentArrays) -> MomentArrays:
        if self.names != other.names:
            raise ValueError(f"cannot add moments of {self.names} and {other.names}")
        return MomentArrays(self.names, self.n + other.n, self.sums + other.sums,
                            self.cross + other.cross)

    def index(self, var: str) -> int:
        """Position of ``var``."""
        return self.names.index(var)

    def cov(self, a: str, b: str) -> FloatArray:
        """Sample covariance (``ddof=1``) of two variables per cell; NaN when ``n < 2``."""
        i, j = self.index(a), self.index(b)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = (self.cross[:, i, j] - self.sums[:, i] * self.sums[:, j] / self.n) / (self.n - 1)
        c = np.where(self.n >= 2, c, np.nan)
        return np.maximum(c, 0.0) if i == j else c

    def mean(self, var: str) -> FloatArray:
        """Mean of one variable per cell; NaN when ``n == 0``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.n > 0, self.sums[:, self.index(var)] / self.n, np.nan)


def _column(columns: Mapping[str, Any], name: str) -> FloatArray:
    if name not in columns:
        raise KeyError(f"missing sufficient-statistics column {name!r}")
    return np.nan_to_num(np.asarray(columns[name], dtype=np.float64), nan=0.0)


def cuped_batch(
    arms: Sequence[MomentArrays], y: str = "y", x: str = "x"
) -> tuple[list[ArmArrays], FloatArray, FloatArray]:
    """:func:`~assay.stats.estimates.cuped_estimates` for many cells at once.

    Args:
        arms: Stacked moments of each arm (same cells, same order).
        y: The metric.
        x: The pre-experiment covariate.

    Returns:
        Adjusted estimates per arm, ``theta`` per cell and the variance reduction per cell.
    """
    pooled = arms[0]
    for arm in arms[1:]:
        pooled = pooled + arm
    var_x, cov_yx = pooled.cov(x, x), pooled.cov(y, x)
    ok = np.isfinite(var_x) & (var_x > 0) & np.isfinite(cov_yx)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(ok, cov_yx / np.where(ok, var_x, 1.0), 0.0)
    xbar_pooled = pooled.mean(x)
    out: list[ArmArrays] = []
    adj_total = np.zeros(theta.shape)
    raw_total = np.zeros(theta.shape)
    for arm in arms:
        codes = _count_codes(arm.n)
        good = codes == None  # noqa: E711
        s_yy, s_xx, s_yx = arm.cov(y, y), arm.cov(x, x), arm.cov(y, x)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.maximum(s_yy - 2 * theta * s_yx + theta**2 * s_xx, 0.0) / arm.n
            point = arm.mean(y) - theta * (arm.mean(x) - xbar_pooled)
            raw = s_yy / arm.n
        adj_total += np.where(good, var, 0.0)
        raw_total += np.where(good, raw, 0.0)
        out.append(ArmArrays(np.where(good, point, np.nan), np.where(good, var, np.nan), arm.n,
                             np.where(good, arm.n - 1, np.nan), codes))
    with np.errstate(divide="ignore", invalid="ignore"):
        reduction = np.where(raw_total > 0, 1.0 - adj_total / raw_total, np.nan)
    return out, theta, reduction


def mean_batch(m: MomentArrays, var: str = "y") -> ArmArrays:
    """:func:`mean_arrays` from stacked moments."""
    i = m.index(var)
    return mean_arrays(m.n, m.sums[:, i], m.cross[:, i, i])


def ratio_batch(m: MomentArrays, num: str = "num", den: str = "den") -> ArmArrays:
    """:func:`ratio_arrays` from stacked moments."""
    i, j = m.index(num), m.index(den)
    return ratio_arrays(m.n, m.sums[:, i], m.sums[:, j], m.cross[:, i, i], m.cross[:, i, j],
                        m.cross[:, j, j])
