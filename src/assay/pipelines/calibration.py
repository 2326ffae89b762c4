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

import math
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
        hits_blocks += p_blocks <= alpha
        hits_runs += p_runs <= alpha
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


@dataclass(frozen=True)
class DetectorReport:
    """A detector's calibration on simulated series.

    Attributes:
        detector: The detector.
        series: Series simulated (clean ones for the false alarms, as many shifted ones).
        length: Points per clean series.
        amplitude: Amplitude of the daily cycle, in noise standard deviations.
        false_alarms_per_1000: Flagged points per 1,000 points of clean series.
        clean_series_flagged: Share of clean series with at least one flag.
        shift: Size of the injected level shift (or spike), in noise standard deviations.
        spike: Whether a one-point spike was injected instead of a lasting shift.
        detected: Share of shifted series in which the shift was found within ``horizon``.
        median_delay: Median points after the shift that the detector needed to flag it,
            run as a monitor would: on the series up to each new point.
    """

    detector: str
    series: int
    length: int
    amplitude: float
    false_alarms_per_1000: float
    clean_series_flagged: float
    shift: float
    spike: bool
    detected: float
    median_delay: float


def detector_calibration(detector: str, *, series: int = 100, length: int = 168,
                         period: int = 24, amplitude: float = 2.0, shift: float = 3.0,
                         horizon: int = 24, spike: bool = False, seed: int = 5
                         ) -> DetectorReport:
    """False alarms on clean series, and the delay to find a level shift, by simulation.

    Clean series: a daily cycle (``amplitude`` sd over ``period`` points) plus N(0, 1) noise,
    a week of hourly points by default. Shifted series: ``length`` clean points, then ``+shift``
    from there on; the detector runs on the series up to each new point (as a monitor would)
    until it flags a point at or after the shift (or one within the minimum segment before it,
    for change points), for at most ``horizon`` points. ``spike=True`` injects a single point
    of ``+shift`` instead of a lasting shift (what a spike detector is for).
    """
    from assay.pipelines.monitor import MIN_SEGMENT, change_points, robust_z, stl_residuals

    def flags(values: NDArray[np.float64]) -> list[int]:
        if detector == "robust_z":
            return [a.index for a in robust_z(values)]
        if detector == "stl":
            return [a.index for a in stl_residuals(values, period=period)]
        return [a.index for a in change_points(values, period=period)]

    rng = np.random.default_rng(seed)
    total = length + horizon
    cycle = amplitude * np.sin(2 * np.pi * np.arange(total) / period)
    tolerance = MIN_SEGMENT if detector == "change_point" else 0
    alarms = flagged = 0
    delays = []
    for _ in range(series):
        clean = flags(cycle[:length] + rng.normal(size=length))
        alarms += len(clean)
        flagged += bool(clean)
        shifted = cycle + rng.normal(size=total)
        if spike:
            shifted[length] += shift
        else:
            shifted[length:] += shift
        for k in range(1, horizon + 1):
            if any(i >= length - tolerance for i in flags(shifted[:length + k])):
                delays.append(k - 1)
                break
    return DetectorReport(detector, series, length, amplitude,
                          1000 * alarms / (series * length), flagged / series, shift, spike,
                          len(delays) / series,
                          float(np.median(delays)) if delays else float("nan"))


@dataclass(frozen=True)
class CoverageReport:
    """Coverage of latency-quantile intervals in simulated switchback experiments.

    Attributes:
        quantile: The level (0.95 is p95).
        simulations: Experiments simulated.
        coverage_arm: Share of per-arm intervals that held the true quantile.
        coverage_diff: Share of difference intervals that held the true difference.
    """

    quantile: float
    simulations: int
    coverage_arm: float
    coverage_diff: float


def latency_quantile_coverage(quantile: float, *, simulations: int = 1000, blocks: int = 200,
                              runs_per_block: int = 12, phi: float = 0.7,
                              speedup: float = 0.8, seed: int = 3) -> CoverageReport:
    """Coverage of the quantile metric's 95% intervals on autocorrelated run latencies.

    Log-latency is a stationary AR(1) (marginal N(0, 0.5^2)) over the runs, so runs of one
    block are correlated; blocks are assigned by assay's hash; the treatment's runs take
    ``speedup`` times as long. The true quantiles are those of the log-normal marginal. Each
    arm is analysed as the pipeline analysis does it: event-level quantile, blocks as clusters
    (:func:`assay.stats.quantiles.compare_quantiles`).
    """
    from scipy.stats import norm

    from assay.stats.quantiles import QuantileArm, compare_quantiles, quantile_estimate

    rng = np.random.default_rng(seed)
    sd = 0.5
    truth = float(np.exp(sd * norm.ppf(quantile)))
    z = float(norm.ppf(0.975))
    ids = [block_id("latency", b) for b in range(blocks)]
    units = np.repeat(np.arange(blocks), runs_per_block)
    held_arm = held_diff = 0
    for i in range(simulations):
        spec = ExperimentSpec.model_validate({"id": f"cov_{i}", "variants": [
            {"name": "a", "weight": 1}, {"name": "b", "weight": 1}]})
        treated = np.repeat(CompiledExperiment(spec).variants(ids) == "b", runs_per_block)
        latency = np.exp(ar1_series(rng, 1, blocks * runs_per_block, phi, sd)[0])
        latency[treated] *= speedup
        arms = [QuantileArm.from_values(latency[mask], quantile, units[mask])
                for mask in (~treated, treated)]
        control = quantile_estimate(arms[0], quantile)
        held_arm += abs(control.point - truth) <= z * math.sqrt(control.variance)
        effect = compare_quantiles(arms[0], arms[1], quantile)
        true_diff = truth * (speedup - 1)
        held_diff += effect.diff_ci[0] <= true_diff <= effect.diff_ci[1]
    return CoverageReport(quantile, simulations, held_arm / simulations,
                          held_diff / simulations)
