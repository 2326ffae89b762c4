"""Simulation: the switchback analysis keeps its false-positive rate on autocorrelated runs."""

from __future__ import annotations

import pytest

from assay.pipelines.calibration import switchback_aa


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
