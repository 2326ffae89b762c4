"""At the default size the demo's effects are present in the raw data and detectable.

Per-user outcomes are computed here with plain SQL on the tables (not with assay's analysis), then
compared between arms with a CUPED-adjusted difference of means (Deng et al. 2013) and a
delta-method standard error for the relative lift.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pytest
from scipy import stats

from assay.demo import DemoInfo, build_demo, template_experiments

SPECS = template_experiments()

UNITS = """
with e as (
    select unit_id, arg_min(variant, "timestamp") as variant, min("timestamp") as t0
    from exposures where experiment_id = $1 and "timestamp" >= $2 and "timestamp" < $3
    group by unit_id having count(distinct variant) = 1),
o as (
    select e.unit_id,
      coalesce(sum(amount - coalesce(refund_amount, 0)) filter (where created_at >= t0
               and created_at < t0 + interval 14 day), 0) as revenue,
      coalesce(sum(amount - coalesce(refund_amount, 0)) filter (where created_at < t0
               and created_at >= t0 - interval 28 day), 0) as revenue_pre,
      count(created_at) filter (where created_at >= t0 and created_at < t0 + interval 14 day)
          as orders,
      count(created_at) filter (where created_at < t0 and created_at >= t0 - interval 28 day)
          as orders_pre
    from e left join orders on orders.user_id = e.unit_id group by e.unit_id),
s as (
    select e.unit_id,
      count(started_at) filter (where started_at >= t0 and started_at < t0 + interval 14 day)
          as sessions,
      count(started_at) filter (where started_at < t0 and started_at >= t0 - interval 28 day)
          as sessions_pre,
      coalesce(sum(pages) filter (where started_at >= t0
               and started_at < t0 + interval 14 day), 0) as pages,
      coalesce(sum(pages) filter (where started_at < t0
               and started_at >= t0 - interval 28 day), 0) as pages_pre
    from e left join sessions on sessions.user_id = e.unit_id group by e.unit_id)
select e.variant, o.*, s.* exclude (unit_id),
       (o.orders > 0)::int as conversion, (o.orders_pre > 0)::int as conversion_pre
from e join o using (unit_id) join s using (unit_id)
"""


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> DemoInfo:
    return build_demo(tmp_path_factory.mktemp("demo_full"))


@pytest.fixture(scope="module")
def full_units(full: DemoInfo) -> dict[str, dict[str, np.ndarray]]:
    """Per-user outcomes of every experiment at the default size (one query each)."""
    return {experiment_id: units(full, experiment_id) for experiment_id in SPECS}


def units(info: DemoInfo, experiment_id: str) -> dict[str, np.ndarray]:
    spec = SPECS[experiment_id]
    with duckdb.connect(str(info.warehouse), read_only=True) as con:
        return con.execute(UNITS, [experiment_id, spec.start_at(), spec.end_at()]).fetchnumpy()


def cuped_lift(data: dict[str, np.ndarray], metric: str, arm: str) -> tuple[float, float]:
    """Relative lift of ``arm`` over control on the CUPED-adjusted metric, and its SE."""
    y = data[metric].astype(float)
    x = data[metric + "_pre"].astype(float)
    theta = np.cov(y, x)[0, 1] / np.var(x, ddof=1)
    adjusted = y - theta * (x - x.mean())
    a, b = adjusted[data["variant"] == "control"], adjusted[data["variant"] == arm]
    m0, m1 = a.mean(), b.mean()
    v0, v1 = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    return m1 / m0 - 1, math.sqrt(v1 / m0**2 + m1**2 * v0 / m0**4)


@pytest.mark.slow
def test_default_build_is_fast_and_complete(full: DemoInfo) -> None:
    assert full.users == 60_000
    assert full.seconds < 60  # ~5 s of CPU on 2 cores; generous for a loaded CI machine
    assert full.tables["orders"] > 500_000 and full.tables["sessions"] > 1_000_000


@pytest.mark.slow
@pytest.mark.parametrize(("experiment_id", "arm", "metric"), [
    ("checkout_redesign", "treatment", "revenue"),
    ("checkout_redesign", "treatment", "conversion"),
    ("checkout_redesign", "treatment", "orders"),
    ("checkout_redesign", "treatment", "sessions"),
    ("homepage_aa", "treatment", "revenue"),
    ("homepage_aa", "treatment", "sessions"),
    ("search_ranking_3arm", "ranker_b", "sessions"),
    ("search_ranking_3arm", "ranker_b", "pages"),
    ("search_ranking_3arm", "ranker_b", "revenue"),
    ("search_ranking_3arm", "ranker_c", "sessions"),
    ("search_ranking_3arm", "ranker_c", "pages"),
])
def test_raw_lift_matches_the_truth(full: DemoInfo, full_units: dict[str, dict[str, np.ndarray]],
                                    experiment_id: str, arm: str, metric: str) -> None:
    truth = full.experiments[experiment_id].effect(arm, metric)
    lift, se = cuped_lift(full_units[experiment_id], metric, arm)
    assert abs(lift - truth) < 4 * se, (lift, se, truth)
    if truth >= 0.03:
        # The headline effects are detected: observed z > 3, and the design's power for the true
        # effect (two-sided 5% z-test at this standard error) is above 99%.
        assert lift / se > 3
        assert stats.norm.cdf(truth / se - 1.96) > 0.99


@pytest.mark.slow
def test_srm_fires_at_the_default_size(full_units: dict[str, dict[str, np.ndarray]]) -> None:
    data = full_units["pricing_banner_srm"]
    counts = [int(np.sum(data["variant"] == v)) for v in ("control", "treatment")]
    assert abs(counts[0] / sum(counts) - 0.48) < 0.001
    assert stats.chisquare(counts).pvalue < 1e-6


def test_units_query_reads_a_small_build(tmp_path: Path) -> None:
    info = build_demo(tmp_path, users=3000)
    data = units(info, "checkout_redesign")
    truth = info.experiments["checkout_redesign"]
    assert len(data["variant"]) == sum(truth.logged_units.values()) - truth.multi_variant_units
    assert np.all(data["conversion"] == (data["orders"] > 0))
