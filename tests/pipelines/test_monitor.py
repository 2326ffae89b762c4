"""Anomaly detectors: they find what was injected, stay quiet on clean series, fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from assay.errors import AssayError
from assay.pipelines.calibration import detector_calibration
from assay.pipelines.monitor import (
    anomaly_checks,
    change_points,
    detect,
    robust_z,
    stl_residuals,
)


def _hourly(seed: int = 3, n: int = 168) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 20 + 4 * np.sin(2 * np.pi * np.arange(n) / 24) + rng.normal(size=n)


def test_robust_z_matches_the_modified_z_by_hand() -> None:
    x = np.r_[np.random.default_rng(1).normal(10, 1, 40), 30.0]
    history = x[-29:-1]
    mad = np.median(np.abs(history - np.median(history)))
    expected = 0.6745 * (30.0 - np.median(history)) / mad
    last = [a for a in robust_z(x) if a.index == 40]
    assert len(last) == 1 and last[0].score == pytest.approx(expected)


def test_stl_finds_a_spike_hidden_by_the_daily_cycle() -> None:
    x = _hourly()
    x[90] += 6  # at a trough, inside the daily range, so a plain threshold would not see it
    assert x[90] < x.max()
    assert 90 in {a.index for a in stl_residuals(x, period=24)}
    newest = np.r_[_hourly(), 0.0]
    newest[-1] = 20 + 4 * np.sin(2 * np.pi * 168 / 24) + 7
    assert 168 in {a.index for a in stl_residuals(newest, period=24)}


def test_change_points_find_a_level_shift_where_it_is() -> None:
    x = _hourly()
    x[120:] += 3
    found = change_points(x, period=24)
    assert any(abs(a.index - 120) <= 2 for a in found) and all(a.score > 0 for a in found)
    assert change_points(_hourly(seed=9), period=24) == []


def test_anomaly_checks_warn_for_the_arm_with_the_spike() -> None:
    clean, spiky = _hourly(seed=4), _hourly(seed=5)
    spiky[90] += 12
    checks = {c.name: c for c in anomaly_checks("mean_duration",
                                                {"json": clean, "parquet": spiky}, period=24)}
    assert checks["anomalies:mean_duration:parquet"].status == "warn"
    assert 90 in [a["index"] for a in checks["anomalies:mean_duration:parquet"].figures[
        "anomalies"]]


def test_bad_series_are_clear_errors() -> None:
    with pytest.raises(AssayError, match="finite"):
        detect([1.0, float("nan"), 2.0])
    with pytest.raises(AssayError, match="two periods"):
        stl_residuals(np.arange(30.0), period=24)
    with pytest.raises(AssayError, match="unknown detector"):
        detect([1.0] * 30, detectors=["zscore"])  # type: ignore[list-item]


@pytest.mark.slow
@pytest.mark.parametrize(("detector", "series", "amplitude", "shift", "spike", "max_fa",
                          "min_found"), [
    ("robust_z", 30, 0.0, 5.0, True, 12.0, 0.7),
    ("stl", 30, 2.0, 5.0, True, 5.0, 0.9),
    ("change_point", 12, 2.0, 3.0, False, 3.0, 0.9),
])
def test_detector_calibration(detector: str, series: int, amplitude: float, shift: float,
                              spike: bool, max_fa: float, min_found: float) -> None:
    """False alarms per 1,000 clean points and the share of injected disturbances found
    (figures in docs/pipelines.md)."""
    report = detector_calibration(detector, series=series, amplitude=amplitude, shift=shift,
                                  spike=spike, horizon=8, seed=17)
    assert report.false_alarms_per_1000 <= max_fa, report
    assert report.detected >= min_found, report
    assert report.median_delay <= 6, report
