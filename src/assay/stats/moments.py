"""Sufficient statistics: the contract between the warehouse and the stats engine.

A metric declares the per-unit variables it needs (``y``; ``num`` and ``den``; a pre-period
covariate ``x`` ...). For each arm (and segment) the warehouse returns the count of units, the
sum of every variable and the sum of every pairwise product. That is all any moment-based method
needs: means, variances, covariances, CUPED's theta, the delta method for ratios, regression
adjustment with several covariates.

The SQL column names are fixed by :func:`sum_column` and :func:`cross_column`, so compiler and
stats can never drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

N_COLUMN = "n"


def sum_column(var: str) -> str:
    """Name of the SQL column holding ``SUM(var)``."""
    return f"s__{var}"


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
        sums: ``sums[i] = sum_u v_i(u)``, shape ``(k,)``.
        cross: ``cross[i, j] = sum_u v_i(u) * v_j(u)``, symmetric, shape ``(k, k)``.
    """

    names: tuple[str, ...]
    n: float
    sums: FloatArray
    cross: FloatArray

    def __post_init__(self) -> None:
        k = len(self.names)
        if self.sums.shape != (k,) or self.cross.shape != (k, k):
            raise ValueError(f"Moments of {k} variables need sums ({k},) and cross ({k},{k})")

    @classmethod
    def from_values(cls, values: Mapping[str, Sequence[float] | FloatArray]) -> Moments:
        """Compute moments from unit-level values (tests, small data, the SDK)."""
        names = tuple(values)
        matrix = np.column_stack([np.asarray(values[v], dtype=np.float64) for v in names])
        return cls(names, float(matrix.shape[0]), matrix.sum(axis=0), matrix.T @ matrix)

    @classmethod
    def from_row(cls, names: Sequence[str], row: Mapping[str, object]) -> Moments:
        """Read moments from one result row keyed by the contract's column names.

        A missing sum (SQL ``NULL`` over zero units) reads as zero.
        """
        names = tuple(names)
        k = len(names)
        sums = np.array([_num(row.get(sum_column(v))) for v in names], dtype=np.float64)
        cross = np.zeros((k, k), dtype=np.float64)
        for i, a in enumerate(names):
            for j in range(i, k):
                cross[i, j] = cross[j, i] = _num(row.get(cross_column(a, names[j])))
        return cls(names, _num(row.get(N_COLUMN)), sums, cross)

    @classmethod
    def zero(cls, names: Sequence[str]) -> Moments:
        """Moments of the empty set."""
        k = len(names)
        return cls(tuple(names), 0.0, np.zeros(k), np.zeros((k, k)))

    def __add__(self, other: Moments) -> Moments:
        if self.names != other.names:
            raise ValueError(f"cannot add moments of {self.names} and {other.names}")
        return Moments(
            self.names, self.n + other.n, self.sums + other.sums, self.cross + other.cross
        )

    def index(self, var: str) -> int:
        """Position of ``var`` in ``names``."""
        return self.names.index(var)

    def select(self, names: Sequence[str]) -> Moments:
        """The moments of a subset (or reordering) of the variables."""
        idx = [self.index(v) for v in names]
        return Moments(tuple(names), self.n, self.sums[idx], self.cross[np.ix_(idx, idx)])

    def mean(self, var: str | None = None) -> float:
        """Mean of one variable (the only one when ``var`` is None). NaN when ``n == 0``."""
        i = 0 if var is None else self.index(var)
        return float(self.sums[i] / self.n) if self.n > 0 else float("nan")

    def means(self) -> FloatArray:
        """Vector of means. NaN when ``n == 0``."""
        if self.n <= 0:
            return np.full(len(self.names), np.nan)
        return self.sums / self.n

    def covariance(self, ddof: int = 1) -> FloatArray:
        """Sample covariance matrix of the variables (``ddof=1``: unbiased).

        Computed as ``(cross - n * mean mean^T) / (n - ddof)``; NaN when ``n <= ddof``.
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
