"""Poisson bootstrap: the warehouse's weights equal the Python twin's, and its intervals equal
those computed from unit-level rows with those weights."""

from __future__ import annotations

import numpy as np
import pytest
from sqlglot import exp
from tests.analysis.shop import ODD_IDS

from assay.analysis import AnalysisResult
from assay.assign.hashing import bucket
from assay.metrics.bootstrap import SALT_PREFIX, weight_expression
from assay.stats.nonparametric import Replicates, poisson_bootstrap, poisson_weights
from assay.warehouse.duckdb import DuckDBWarehouse

REL = 1e-9


def _twin_weights(units: list[str], replicates: int) -> np.ndarray:
    u = np.array([[bucket(f"{SALT_PREFIX}{b}", unit) / 10000 for b in range(replicates)]
                  for unit in units])
    return poisson_weights(u.ravel()).reshape(u.shape)


def test_sql_weights_equal_the_python_twin() -> None:
    units = [f"u{i}" for i in range(200)] + ODD_IDS
    wh = DuckDBWarehouse()
    wh.write_table("t", __import__("pyarrow").table({"unit_id": units}))
    query = exp.select(
        exp.column("unit_id"), exp.column("b"),
        exp.alias_(weight_expression(exp.column("b"), exp.column("unit_id"), "duckdb"), "w"),
    ).from_("t").join(exp.values([(b,) for b in range(30)], alias="r", columns=["b"]),
                      join_type="cross")
    rows = wh.execute(query.sql("duckdb")).to_pylist()
    twin = _twin_weights(units, 30)
    index = {u: i for i, u in enumerate(units)}
    assert all(r["w"] == twin[index[r["unit_id"]], r["b"]] for r in rows)
    assert 0.9 < twin.mean() < 1.1  # Poisson(1) weights


@pytest.mark.parametrize("metric", ["revenue", "aov"])
def test_bootstrap_intervals_equal_a_unit_level_recomputation(result: AnalysisResult, units,  # type: ignore[no-untyped-def]
                                                              metric: str) -> None:
    reps = 60
    weights = _twin_weights(list(units.index), reps)
    num = units.revenue.to_numpy()
    den = units.orders.to_numpy() if metric == "aov" else np.ones(len(units))
    arms = {}
    for arm in ("control", "treatment"):
        mask = (units.variant == arm).to_numpy()
        arms[arm] = Replicates(weights[mask].T @ num[mask], weights[mask].T @ den[mask],
                               float(num[mask].sum()), float(den[mask].sum()))
    diff = poisson_bootstrap(arms["control"], arms["treatment"], statistic="diff")
    lift = poisson_bootstrap(arms["control"], arms["treatment"], statistic="rel_lift")
    got = next(b for b in result.bootstrap if b.metric == metric)
    assert got.replicates == reps and got.error is None
    assert got.diff == pytest.approx(diff.point, rel=REL)
    assert got.diff_ci == pytest.approx(diff.ci, rel=1e-7)
    assert got.rel_lift_ci == pytest.approx(lift.ci, rel=1e-7)
