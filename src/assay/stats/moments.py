"""Sufficient statistics: the contract between the warehouse and the stats engine.

A metric declares the per-unit variables it needs (``y``; ``num`` and ``den``; a pre-period
covariate ``x`` ...). For each arm (and segment) the warehouse returns the count of units, the
sum of every variable and the sum of every pairwise product. That is all any moment-based method
needs: means, variances, covariances, CUPED's theta, the delta method for ratios, regression
adjustment with several covariates.

The SQL column names are fixed by :func:`sum_column`, :func:`cross_column` and
:func:`shift_column`, so compiler and stats can never drift apart.

Moments are *shifted*: each variable is centred on a constant ``c`` (its ``shift``) before
summing, ``sums = sum (v - c)`` and ``cross = sum (v_i - c_i)(v_j - c_j)``. With ``c`` near the
mean, a metric of about 1e9 with a standard deviation of 1 keeps its variance (raw sums of
squares lose it to cancellation: 1e18 + 1 is 1e18 in double precision). Any constant gives
the same statistics in exact arithmetic, and moments with different shifts still add (one is
re-centred onto the other's shift first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

N_COLUMN = "n"


def sum_column(var: str) -> str:
    """Name of the SQL column holding ``SUM(var)``."""
    return f"s__{var}"


def shift_column(var: str) -> str:
    """Name of the SQL column holding the constant ``var`` was centred on (absent: 0)."""
    return f"c__{var}"


def cross_column(a: str, b: str) -> str:
    """Name of the SQL column holding ``SUM(a * b)``; the pair is stored once, in sorted order."""
    first, second = sorted((a, b))
    return f"ss__{first}__{second}"


@dataclass(frozen=True, eq=False)
class Moments:
    """Count, sums and cross-product sums of ``k`` per-unit variables over a set of units.

    Moments of disjoint sets of units add: pooling arms, segments or days is ``a + b``.

    Attributes:
        names: Variable names, in the order of ``sums`` and ``cross``.
        n: Number of units.
        sums: ``sums[i] = sum_u (v_i(u) - shift[i])``, shape ``(k,)``.
        cross: ``cross[i, j] = sum_u (v_i(u) - shift[i]) (v_j(u) - shift[j])``, symmetric,
            shape ``(k, k)``.
        shift: The constants the variables are centred on, shape ``(k,)`` (default zeros:
            raw sums).
    """

    names: tuple[str, ...]
    n: float
    sums: FloatArray
    cross: FloatArray
    shift: FloatArray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        k = len(self.names)
        if self.shift.shape == (0,) and k:
            object.__setattr__(self, "shift", np.zeros(k))
        if self.sums.shape != (k,) or self.cross.shape != (k, k) or self.shift.shape != (k,):
            raise ValueError(f"Moments of {k} variables need sums ({k},) and cross ({k},{k})")

    @classmethod
    def from_values(cls, values: Mapping[str, Sequence[float] | FloatArray]) -> Moments:
        """Compute moments from unit-level values (tests, small data, the SDK), centred on
        each variable's mean."""
        names = tuple(values)
        matrix = np.column_stack([np.asarray(values[v], dtype=np.float64) for v in names])
        shift = matrix.mean(axis=0) if matrix.shape[0] else np.zeros(len(names))
        centred = matrix - shift
        return cls(names, float(matrix.shape[0]), centred.sum(axis=0), centred.T @ centred, shift)

    @classmethod
    def from_row(cls, names: Sequence[str], row: Mapping[str, object]) -> Moments:
        """Read moments from one result row keyed by the contract's column names.

        A missing sum or shift (SQL ``NULL`` over zero units) reads as zero.
        """
        names = tuple(names)
        k = len(names)
        sums = np.array([_num(row.get(sum_column(v))) for v in names], dtype=np.float64)
        shift = np.array([_num(row.get(shift_column(v))) for v in names], dtype=np.float64)
        cross = np.zeros((k, k), dtype=np.float64)
        for i, a in enumerate(names):
            for j in range(i, k):
                cross[i, j] = cross[j, i] = _num(row.get(cross_column(a, names[j])))
        return cls(names, _num(row.get(N_COLUMN)), sums, cross, shift)

    @classmethod
    def zero(cls, names: Sequence[str]) -> Moments:
        """Moments of the empty set."""
        k = len(names)
        return cls(tuple(names), 0.0, np.zeros(k), np.zeros((k, k)), np.zeros(k))

    def __add__(self, other: Moments) -> Moments:
        if self.names != other.names:
            raise ValueError(f"cannot add moments of {self.names} and {other.names}")
        if self.n == 0:
            return other
        aligned = other.recentred(self.shift)
        return Moments(self.names, self.n + other.n, self.sums + aligned.sums,
                       self.cross + aligned.cross, self.shift)

    def recentred(self, shift: FloatArray) -> Moments:
        """The same moments centred on ``shift`` instead (exact algebra)."""
        shift = np.asarray(shift, dtype=np.float64)
        if np.array_equal(shift, self.shift):
            return self
        d = self.shift - shift  # v - new = (v - old) + d
        sums = self.sums + self.n * d
        cross = self.cross + np.outer(self.sums, d) + np.outer(d, self.sums)
        cross = cross + self.n * np.outer(d, d)
        return Moments(self.names, self.n, sums, cross, shift)

    def totals(self) -> FloatArray:
        """``sum_u v_i(u)`` of each variable (uncentred sums)."""
        return self.sums + self.n * self.shift

    def index(self, var: str) -> int:
        """Position of ``var`` in ``names``."""
        return self.names.index(var)

    def select(self, names: Sequence[str]) -> Moments:
        """The moments of a subset (or reordering) of the variables."""
        idx = [self.index(v) for v in names]
        return Moments(tuple(names), self.n, self.sums[idx], self.cross[np.ix_(idx, idx)],
                       self.shift[idx])

    def mean(self, var: str | None = None) -> float:
        """Mean of one variable (the only one when ``var`` is None). NaN when ``n == 0``."""
        i = 0 if var is None else self.index(var)
        return float(self.shift[i] + self.sums[i] / self.n) if self.n > 0 else float("nan")

    def means(self) -> FloatArray:
        """Vector of means. NaN when ``n == 0``."""
        if self.n <= 0:
            return np.full(len(self.names), np.nan)
        return self.shift + self.sums / self.n

    def covariance(self, ddof: int = 1) -> FloatArray:
        """Sample covariance matrix of the variables (``ddof=1``: unbiased).

        Computed from the shifted sums as ``(cross - sums sums^T / n) / (n - ddof)`` (the
        shift cancels); NaN when ``n <= ddof``.
        """
        k = len(self.names)
        if self.n <= ddof:
            return np.full((k, k), np.nan)
        centred = self.cross - np.outer(self.sums, self.sums) / self.n
        cov = centred / (self.n - ddof)
        # Cancellation can leave a zero variance slightly negative; a variance is never < 0.
        np.fill_diagonal(cov, np.maximum(np.diag(cov), 0.0))
        return cov

    def variance(self, var: str | None = None, ddof: int = 1) -> float:
        """Sample variance of one variable."""
        i = 0 if var is None else self.index(var)
        return float(self.covariance(ddof)[i, i])


def _num(value: object) -> float:
    if value is None:
        return 0.0
    return float(value)  # type: ignore[arg-type]
