"""A/A calibration of the activity kinds' comparisons (slow): false positives at alpha.

Per-unit funnel flags (nested: a unit reaches step k only after step k-1), retention 0/1 and
participation shares are drawn with numpy, reduced to the per-arm rows the activity statements
return (raw sums, the moments contract), and read by the same engine path as an analysis
(:func:`assay.analysis.compute.compare_metrics` on the experiment's comparison plans). Under
A/A every comparison's false-positive rate must be alpha within 3.5 standard errors.
"""

from __future__ import annotations

from itertools import combinations_with_replacement
from pathlib import Path

import numpy as np
import pytest
from tests.metrics.activity_data import write_project

from assay.analysis.compute import Cell, compare_metrics
from assay.metrics.kinds import comparison_plans, with_activities
from assay.metrics.plan import AnalysisPlan, plan_experiment
from assay.spec import load_project
from assay.stats.moments import N_COLUMN, cross_column, sum_column

REPLICATES = 2000
UNITS = 1000  # per arm: about 120 units reach the second step


def _row(plan: AnalysisPlan, units: dict[str, np.ndarray]) -> dict[str, float]:
    """One arm's row: every comparison's count, sums and cross-product sums."""
    row: dict[str, float] = {}
    for activity in plan.activities:
        for metric, columns in comparison_plans(activity):
            values = {var: units[c] for var, c in columns.items()}
            row[metric.prefix + N_COLUMN] = float(len(values[metric.outcome]))
            for var, v in values.items():
                row[metric.prefix + sum_column(var)] = float(v.sum())
            for a, b in combinations_with_replacement(sorted(values), 2):
                row[metric.prefix + cross_column(a, b)] = float(values[a] @ values[b])
    return row


def _units(rng: np.random.Generator) -> dict[str, np.ndarray]:
    r0 = (rng.random(UNITS) < 0.4).astype(float)
    r1 = r0 * (rng.random(UNITS) < 0.3)
    r2 = r1 * (rng.random(UNITS) < 0.5)
    days = rng.integers(1, 7, UNITS)  # observed days
    share = rng.binomial(days, rng.beta(2, 3, UNITS)) / days
    return {"r0": r0, "r1": r1, "r2": r2, "y": share}


@pytest.mark.slow
def test_aa_false_positive_rate_of_every_activity_comparison(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path))
    plan = plan_experiment(project, project.experiment("exp"))
    compared = with_activities(plan)
    rng = np.random.default_rng(2026)
    hits: dict[str, int] = {}
    for _ in range(REPLICATES):
        arms = {}
        for variant in ("control", "treatment"):
            units = _units(rng)
            row = _row(plan, units)
            # retention's `y` is a 0/1 return, not the participation share `_row` gave it
            for metric, _ in comparison_plans(plan.activities[1]):
                returned = (rng.random(UNITS) < 0.35).astype(float)
                row |= {metric.prefix + N_COLUMN: float(UNITS),
                        metric.prefix + sum_column("y"): returned.sum(),
                        metric.prefix + cross_column("y", "y"): returned.sum()}
            arms[variant] = row
        for c in compare_metrics(compared, Cell(None, None, arms), {}):
            hits[c.result.metric] = hits.get(c.result.metric, 0) + (c.result.p_value < 0.05)
    se = np.sqrt(0.05 * 0.95 / REPLICATES)
    assert set(hits) == {"checkout.view", "checkout.cart", "checkout.purchase",
                         "checkout.view_to_cart", "checkout.cart_to_purchase", "returned",
                         "active_days"}
    for name, count in hits.items():
        assert abs(count / REPLICATES - 0.05) < 3.5 * se, (name, count / REPLICATES)
