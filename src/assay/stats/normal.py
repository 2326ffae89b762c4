"""The standard normal distribution from :mod:`scipy.special`, without importing scipy.stats.

``scipy.stats`` costs about a second to import, as much as the rest of ``assay analyze``'s
start-up; these are the same functions ``scipy.stats.norm`` evaluates (``ndtr``, ``ndtri``) and
its density formula, so the numbers are the same.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from assay.stats.moments import FloatArray

_SQRT_2PI = math.sqrt(2.0 * math.pi)


def cdf(x: FloatArray | float) -> FloatArray:
    """``Phi(x)``."""
    return np.asarray(special.ndtr(x), dtype=np.float64)


def sf(x: FloatArray | float) -> FloatArray:
    """``1 - Phi(x)``, accurate in the upper tail."""
    return np.asarray(special.ndtr(-np.asarray(x, dtype=np.float64)), dtype=np.float64)


def ppf(q: FloatArray | float) -> FloatArray:
    """``Phi^{-1}(q)``."""
    return np.asarray(special.ndtri(q), dtype=np.float64)


def pdf(x: FloatArray | float) -> FloatArray:
    """``phi(x) = exp(-x^2 / 2) / sqrt(2 pi)``."""
    x = np.asarray(x, dtype=np.float64)
    return np.asarray(np.exp(-(x**2) / 2.0) / _SQRT_2PI, dtype=np.float64)
