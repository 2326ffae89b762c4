"""Regression adjustment on three covariates by simulation (slow): the variance reduction it
reaches is the theoretical ``1 - (1 - R^2)``, and the adjusted test keeps its level and its
intervals their coverage (within-arm slopes, as ``assay analyze`` uses them)."""

from __future__ import annotations

import numpy as np
import pytest
from tests.stats.test_calibration import _check_cover, _check_rate, _compare_many

from assay.stats.adjust import regression_estimates
from assay.stats.moments import Moments

pytestmark = pytest.mark.slow

SIGMA = np.array([[1.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 1.0]])
BETA = np.array([0.8, -0.5, 0.6])
NOISE_SD = 0.9
COVARIATES = ("x1", "x2", "x3")


def _theoretical_r2() -> float:
    explained = float(BETA @ SIGMA @ BETA)
    return explained / (explained + NOISE_SD**2)


def _arm(rng: np.random.Generator, shape: tuple[int, ...], effect: float) -> dict[str, np.ndarray]:
    """Units with three correlated covariates (far from 0: the moments are shifted) and a
    linear outcome."""
    z = rng.standard_normal((*shape, 3)) @ np.linalg.cholesky(SIGMA).T
    x = z + np.array([5.0, -2.0, 30.0])
    y = 10 + effect + z @ BETA + rng.normal(0, NOISE_SD, shape)
    return {"y": y, **{name: x[..., i] for i, name in enumerate(COVARIATES)}}


def _moments_batch(values: dict[str, np.ndarray]) -> list[Moments]:
    """Moments of every simulation (rows) from unit-level matrices, centred on the means."""
    names = tuple(values)
    stack = np.stack([values[v] for v in names], axis=-1)  # sims, n, k
    shift = stack.mean(axis=1, keepdims=True)
    centred = stack - shift
    cross = np.matmul(centred.transpose(0, 2, 1), centred)
    sums = centred.sum(axis=1)
    n = float(stack.shape[1])
    return [Moments(names, n, sums[i], cross[i], shift[i, 0]) for i in range(stack.shape[0])]


def test_three_covariates_reach_the_theoretical_variance_reduction_within_one_percent() -> None:
    rng = np.random.default_rng(2026)
    n = 200_000
    arms = {a: Moments.from_values(_arm(rng, (n,), 0.3 * (a == "t"))) for a in ("c", "t")}
    result = regression_estimates(arms, "y", COVARIATES, pooling="within")
    theory = _theoretical_r2()
    print(f"FIGURE regression (3 covariates): reduction {result.variance_reduction:.4f}, "
          f"theory 1 - (1 - R^2) = {theory:.4f}")
    assert result.variance_reduction == pytest.approx(theory, rel=0.01)
    assert list(result.coefficients.values()) == pytest.approx(BETA.tolist(), abs=0.01)


def test_adjusted_test_keeps_its_level_and_its_intervals_their_coverage() -> None:
    rng = np.random.default_rng(2027)
    sims, n = 4000, 300
    for effect, label in ((0.0, "A/A FPR"), (0.25, "coverage")):
        c = _moments_batch(_arm(rng, (sims, n), 0.0))
        t = _moments_batch(_arm(rng, (sims, n), effect))
        fits = [regression_estimates({"c": a, "t": b}, "y", COVARIATES, pooling="within")
                for a, b in zip(c, t, strict=True)]
        out = _compare_many([(f.estimates["c"], f.estimates["t"]) for f in fits])
        reduction = np.mean([f.variance_reduction for f in fits])
        assert reduction == pytest.approx(_theoretical_r2(), abs=0.02)
        if effect == 0.0:
            _check_rate(f"regression (3 covariates, within): {label}",
                        np.mean(out["p_value"] <= 0.05))
        else:
            covered = (out["diff_lo"] <= effect) & (out["diff_hi"] >= effect)
            _check_cover(f"regression (3 covariates, within): {label}", covered.mean())
