"""Simulation: the switchback analysis keeps its false-positive rate on autocorrelated runs."""

from __future__ import annotations

import pytest

from assay.pipelines.calibration import latency_quantile_coverage, switchback_aa


@pytest.mark.slow
def test_switchback_aa_false_positive_rate_is_nominal() -> None:
    report = switchback_aa(simulations=4000, blocks=240, runs_per_block=12, washout_runs=2,
                           phi=0.9, seed=2026)
    assert 0.04 <= report.fpr_blocks <= 0.06, report
    # what treating autocorrelated runs as independent units would claim
    assert report.fpr_runs > 0.2, report


def test_a_short_aa_run_is_in_range_of_its_own_noise() -> None:
    report = switchback_aa(simulations=300, blocks=60, seed=1)
    assert 0.01 <= report.fpr_blocks <= 0.10 and report.fpr_runs > report.fpr_blocks


@pytest.mark.slow
@pytest.mark.parametrize("quantile", [0.5, 0.95, 0.99])
def test_latency_quantile_intervals_cover_95_percent(quantile: float) -> None:
    """The difference interval (what the experiment reports) on autocorrelated switchback runs;
    figures in docs/pipelines.md."""
    report = latency_quantile_coverage(quantile, simulations=3000, seed=99)
    assert 0.935 <= report.coverage_diff <= 0.965, report
