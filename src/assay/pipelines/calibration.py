"""Calibration by simulation: does the switchback analysis keep its false-positive rate?

Runs of one pipeline are autocorrelated (a slow disk, a busy cluster, a big partition stay so
for a while), so treating runs as independent units understates the variance and finds
differences that are not there. :func:`switchback_aa` simulates A/A switchback experiments on an
AR(1) series of run latencies, assigns blocks with assay's salted hash, and analyses each the way
:func:`assay.pipelines.analyze_pipeline` does: a ratio metric of block sums (the block is the
cluster), delta-method variance, z test, all from :mod:`assay.stats`. It also reports what the
naive run-level analysis would have claimed, for contrast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

from assay.assign.engine import CompiledExperiment
from assay.pipelines.designs import block_id
from assay.spec.models import ExperimentSpec
from assay.stats.estimates import mean_estimate, ratio_estimate
from assay.stats.moments import Moments
from assay.stats.tests import compare


@dataclass(frozen=True)
class AAReport:
    """False-positive rates of A/A switchback simulations at level ``alpha``.

    Attributes:
        simulations: Experiments simulated.
        alpha: Test level.
        fpr_blocks: Share of experiments the block-clustered analysis called significant.
        fpr_runs: The same for a naive analysis with every run as an independent unit.
    """

    simulations: int
    alpha: float
    fpr_blocks: float
    fpr_runs: float


def ar1_series(rng: np.random.Generator, sims: int, length: int, phi: float,
               sd: float = 1.0) -> NDArray[np.float64]:
    """``sims`` stationary AR(1) series of ``length`` (marginal sd ``sd``), one per row."""
    noise = rng.normal(0.0, sd * np.sqrt(1 - phi**2), size=(sims, length))
    noise[:, 0] = rng.normal(0.0, sd, size=sims)  # start in the stationary distribution
    series: NDArray[np.float64] = lfilter([1.0], [1.0, -phi], noise, axis=1)
    return series


def switchback_aa(*, simulations: int = 2000, blocks: int = 120, runs_per_block: int = 12,
                  washout_runs: int = 2, phi: float = 0.9, alpha: float = 0.05,
                  seed: int = 11) -> AAReport:
    """Simulate A/A switchback experiments and count false positives.

    Args:
        simulations: Experiments to simulate.
        blocks: Time blocks per experiment.
        runs_per_block: Runs starting in each block (evenly spaced).
        washout_runs: Runs at the start of a block dropped as washout.
        phi: Run-to-run autocorrelation of the latency series.
        alpha: Test level.
        seed: Random seed of the latency series (assignment comes from the hash).
    """
    rng = np.random.default_rng(seed)
    latency = 10.0 + ar1_series(rng, simulations, blocks * runs_per_block, phi)
    kept = latency.reshape(simulations, blocks, runs_per_block)[:, :, washout_runs:]
    ids = [block_id("sim", b) for b in range(blocks)]
    hits_blocks = hits_runs = 0
    for i in range(simulations):
        spec = ExperimentSpec.model_validate({"id": f"aa_{i}", "variants": [
            {"name": "a", "weight": 1}, {"name": "b", "weight": 1}]})
        arms = CompiledExperiment(spec).variants(ids)
        p_blocks, p_runs = _p_values(kept[i], arms == "b")
        hits_blocks += p_blocks < alpha
        hits_runs += p_runs < alpha
    return AAReport(simulations, alpha, hits_blocks / simulations, hits_runs / simulations)


def _p_values(runs: NDArray[np.float64], treated: NDArray[np.bool_]) -> tuple[float, float]:
    """(block-clustered, naive run-level) p-values of one simulated experiment."""
    per_block = {"num": runs.sum(axis=1), "den": np.full(runs.shape[0], runs.shape[1], float)}
    arms = [Moments.from_values({k: v[mask] for k, v in per_block.items()})
            for mask in (~treated, treated)]
    clustered = compare(ratio_estimate(arms[0]), ratio_estimate(arms[1]), test="z")
    naive = compare(mean_estimate(Moments.from_values({"y": runs[~treated].ravel()})),
                    mean_estimate(Moments.from_values({"y": runs[treated].ravel()})))
    return clustered.p_value, naive.p_value
