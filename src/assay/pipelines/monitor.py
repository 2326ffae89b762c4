"""Anomaly detection on KPI series (per hour or day): robust z, STL residuals, change points.

Three detectors with documented defaults, each returning the points it flags:

* :func:`robust_z`: each point against the median and MAD of the ``window`` points before it;
  flagged when ``|0.6745 (x - median) / MAD| > threshold`` (Iglewicz & Hoaglin's modified z,
  3.5 by default). Catches spikes; needs no seasonality.
* :func:`stl_residuals`: seasonal-trend decomposition (statsmodels ``STL``, robust) with the
  series' ``period``; the residuals' modified z over the whole series. Catches spikes that a
  daily or weekly cycle would hide.
* :func:`change_points`: PELT (ruptures) on the standardised series with an L2 cost and a
  BIC-like penalty; flags the first point of each new level. Catches level shifts (a
  configuration that got slower and stayed slower).

:func:`anomaly_checks` turns detections into checks on an experiment: a spike in one arm is a
``warn`` naming the arm and the points. ``assay monitor`` runs the detectors over any series.
Their false-alarm rates and detection delays are measured by simulation in
:mod:`assay.pipelines.calibration` (figures in ``docs/pipelines.md``).

References:
    Iglewicz, B., Hoaglin, D. (1993). How to detect and handle outliers. ASQC.
    Cleveland, R. B. et al. (1990). STL: a seasonal-trend decomposition procedure based on
    loess. Journal of Official Statistics 6(1), 3-73.
    Killick, R., Fearnhead, P., Eckley, I. A. (2012). Optimal detection of changepoints with a
    linear computational cost. JASA 107(500), 1590-1598.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from sqlglot import exp

from assay.errors import AssayError
from assay.results import Check
from assay.warehouse import Warehouse

Detector = Literal["robust_z", "stl", "change_point"]
DETECTORS: tuple[Detector, ...] = ("robust_z", "stl", "change_point")
Z_THRESHOLD = 3.5
WINDOW = 28
MIN_HISTORY = 8
PENALTY_FACTOR = 3.0
MIN_SEGMENT = 5
_MAD_TO_SD = 0.6745


@dataclass(frozen=True)
class Anomaly:
    """One flagged point.

    Attributes:
        index: Position in the series.
        value: The series' value there.
        detector: Which detector flagged it.
        score: The modified z (robust_z, stl) or the size of the level shift in robust
            standard deviations (change_point).
    """

    index: int
    value: float
    detector: str
    score: float


def _as_array(values: Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or not np.all(np.isfinite(array)):
        raise AssayError("a monitored series is a list of finite numbers (no gaps: fill or "
                         "drop missing periods first)")
    return array


def _robust_scale(values: NDArray[np.float64]) -> float:
    return float(np.median(np.abs(values - np.median(values)))) / _MAD_TO_SD


def robust_z(values: Sequence[float] | NDArray[np.float64], *, window: int = WINDOW,
             threshold: float = Z_THRESHOLD, min_history: int = MIN_HISTORY) -> list[Anomaly]:
    """Points far from the median of the ``window`` points before them (modified z)."""
    x = _as_array(values)
    found = []
    for i in range(min_history, len(x)):
        history = x[max(0, i - window):i]
        scale = _robust_scale(history)
        if scale <= 0:
            continue
        z = (x[i] - float(np.median(history))) / scale
        if abs(z) > threshold:
            found.append(Anomaly(i, float(x[i]), "robust_z", float(z)))
    return found


def stl_residuals(values: Sequence[float] | NDArray[np.float64], *, period: int,
                  threshold: float = Z_THRESHOLD) -> list[Anomaly]:
    """Points whose STL residual has a modified z above ``threshold``.

    The newest point is scored as a monitor needs it: against the forecast of an STL fit of the
    points before it (last trend value plus the seasonal value one period back), because a fit
    that includes it bends its trend towards it at the series' end.
    """
    from statsmodels.tsa.seasonal import STL

    x = _as_array(values)
    if period < 2 or len(x) < 2 * period + 2:
        raise AssayError(f"STL needs a period of at least 2 and more than two periods of data "
                         f"(period {period}, {len(x)} points)")
    fit = STL(x, period=period).fit()
    resid = np.asarray(fit.resid, dtype=np.float64)
    scale = _robust_scale(resid)
    if scale <= 0:
        return []
    z = (resid - float(np.median(resid))) / scale
    history = STL(x[:-1], period=period).fit()
    forecast = float(np.asarray(history.trend)[-1] + np.asarray(history.seasonal)[-period])
    z[-1] = (x[-1] - forecast) / _robust_scale(np.asarray(history.resid, dtype=np.float64))
    return [Anomaly(int(i), float(x[i]), "stl", float(z[i]))
            for i in np.flatnonzero(np.abs(z) > threshold)]


def change_points(values: Sequence[float] | NDArray[np.float64], *,
                  period: int | None = None, penalty_factor: float = PENALTY_FACTOR,
                  min_size: int = MIN_SEGMENT) -> list[Anomaly]:
    """Starts of new levels found by PELT (L2 cost, penalty ``factor * log(n)``).

    With a ``period`` the STL seasonal component is removed first (a daily cycle is not a
    change of level). The series is standardised by a robust noise scale (MAD of first
    differences / sqrt 2, which a level shift barely moves), so the penalty means the same on
    any KPI's units.
    """
    import ruptures

    x = _as_array(values)
    if len(x) < 2 * min_size:
        return []
    level = x
    if period is not None and len(x) > 2 * period:
        from statsmodels.tsa.seasonal import STL

        level = x - np.asarray(STL(x, period=period).fit().seasonal, dtype=np.float64)
    scale = _robust_scale(np.diff(level)) / math.sqrt(2)
    if scale <= 0:
        return []
    z = (level - float(np.median(level))) / scale
    ends = ruptures.Pelt(model="l2", min_size=min_size, jump=1).fit(z).predict(
        pen=penalty_factor * math.log(len(x)))
    bounds = [0, *ends]
    return [Anomaly(int(cp), float(x[cp]), "change_point",
                    float(np.mean(z[cp:bounds[k + 2]]) - np.mean(z[bounds[k]:cp])))
            for k, cp in enumerate(ends[:-1])]


def detect(values: Sequence[float] | NDArray[np.float64], *,
           detectors: Sequence[Detector] = DETECTORS, period: int | None = None
           ) -> list[Anomaly]:
    """Run the chosen detectors (STL only when a ``period`` is given)."""
    unknown = [d for d in detectors if d not in DETECTORS]
    if unknown:
        raise AssayError(f"unknown detector {unknown[0]!r}; choose from {', '.join(DETECTORS)}")
    found: list[Anomaly] = []
    if "robust_z" in detectors:
        found += robust_z(values)
    if "stl" in detectors and period is not None:
        found += stl_residuals(values, period=period)
    if "change_point" in detectors:
        found += change_points(values, period=period)
    return sorted(found, key=lambda a: (a.index, a.detector))


def anomaly_checks(metric: str, series: Mapping[str, Sequence[float]], *,
                   period: int | None = None,
                   detectors: Sequence[Detector] = DETECTORS) -> list[Check]:
    """One check per arm: ``warn`` when the arm's KPI series has anomalies."""
    checks = []
    for variant, values in series.items():
        found = detect(values, detectors=detectors, period=period)
        name = f"anomalies:{metric}:{variant}"
        figures = {"variant": variant, "points": len(values),
                   "anomalies": [{"index": a.index, "detector": a.detector,
                                  "score": round(a.score, 3)} for a in found]}
        if found:
            where = ", ".join(f"{a.index} ({a.detector})" for a in found[:8])
            checks.append(Check(name, "warn", f"{len(found)} anomalies in {metric} of "
                                f"{variant} at points {where}", figures))
        else:
            checks.append(Check(name, "pass", f"no anomaly in {metric} of {variant} over "
                                f"{len(values)} points", figures))
    return checks


def run_series(warehouse: Warehouse, runs_table: str, experiment_id: str,
               value: str = "duration_s") -> dict[str, list[float]]:
    """Each arm's finished, analysed runs' ``value`` in start order (a per-run KPI series,
    for batch pipelines whose every run is a point worth watching)."""
    column = exp.column(value, quoted=True)
    query = (exp.select(exp.column("variant", quoted=True), exp.alias_(column, "value"))
             .from_(exp.to_table(runs_table, dialect=warehouse.dialect))
             .where(exp.column("experiment_id", quoted=True).eq(
                 exp.Literal.string(experiment_id)))
             .where("phase = 'end' AND analysed")
             .where(column.copy().is_(exp.null()).not_())
             .order_by(exp.column("started_at", quoted=True), exp.column("run_id", quoted=True)))
    out: dict[str, list[float]] = {}
    for row in warehouse.execute(query.sql(warehouse.dialect)).to_pylist():
        out.setdefault(str(row["variant"]), []).append(float(row["value"]))
    return out
