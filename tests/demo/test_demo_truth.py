"""The stated truths: hand-worked values, and the generator's events reproducing them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.demo import DemoInfo
from assay.demo.events import orders_table, poisson_events, rescue_orders, sessions_table
from assay.demo.population import AMOUNT_SIGMA, Population, make_population, make_user_ids
from assay.demo.timeline import Timeline
from assay.demo.traps import CAROUSEL_METRICS, JAPAN_SAVES_LIFT, NOVELTY_LIFT, VIEWS_LIFT
from assay.demo.truth import METRICS, search_truths, solve_checkout

DAY = 86400.0
TIMELINE = Timeline(dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 15))


def tiny_population(order_rate: list[float], mean_amount: list[float],
                    session_rate: list[float], extra_pages: list[float]) -> Population:
    n = len(order_rate)
    zeros = np.zeros(n, dtype=np.int64)
    return Population(
        user_id=make_user_ids(max(n, 1000))[:n], signup=np.full(n, -DAY), country=zeros,
        platform=zeros, channel=zeros, order_rate=np.asarray(order_rate),
        basket_log=np.log(mean_amount) - AMOUNT_SIGMA**2 / 2,
        session_rate=np.asarray(session_rate), extra_pages=np.asarray(extra_pages),
        duration_log=np.zeros(n))


def test_checkout_solution_hand_worked() -> None:
    # Two users expecting ln 2 and ln 4 orders in 14 days: P(no order) = 1/2 and 1/4.
    population = tiny_population([math.log(2) / 14, math.log(4) / 14], [10.0, 30.0],
                                 [1.0, 1.0], [1.0, 1.0])
    effect = solve_checkout(population, np.array([0, 1]))
    rescue = 0.03 * (0.5 + 0.75) / (0.5 + 0.25)  # = 0.05
    orders = rescue * 0.75 / (3 * math.log(2))
    base = 10 * math.log(2) + 30 * math.log(4)  # = 70 ln 2
    assert effect.rescue_rate == pytest.approx(0.05, rel=1e-12)
    assert effect.rescue_rate == pytest.approx(rescue, rel=1e-12)
    assert effect.amount_lift == pytest.approx(1.04 * base / (base + 0.05 * 12.5) - 1, rel=1e-12)
    assert effect.truths["revenue"] == 0.04
    assert effect.truths["conversion"] == 0.03
    assert effect.truths["orders"] == pytest.approx(orders, rel=1e-12)
    assert effect.truths["aov"] == pytest.approx(1.04 / (1 + orders) - 1, rel=1e-12)
    assert effect.truths["refund_rate"] == 0.0


def test_search_truths_hand_worked() -> None:
    # Rates 1 and 3 sessions a day, 2 and 4 extra pages: E[pages] per day 1*3 + 3*5 = 18;
    # treated 1.04 * (1 * (1 + 2.1) + 3 * (1 + 4.2)) = 19.448.
    population = tiny_population([0.1, 0.1], [10.0, 10.0], [1.0, 3.0], [2.0, 4.0])
    truths = search_truths(population, np.array([0, 1]))
    assert truths["sessions"] == 0.04
    assert truths["pages"] == pytest.approx(19.448 / 18 - 1, rel=1e-12)
    assert truths["session_duration"] == 0.0


def test_truths_per_experiment(demo: DemoInfo) -> None:
    info = demo.experiments
    assert set(info) == {"checkout_redesign", "homepage_aa", "pricing_banner_srm",
                         "search_ranking_3arm", "onboarding_tips", "recs_carousel"}
    assert [t.kind for t in info.values()] == ["effect", "aa", "srm", "multiarm", "aa", "trap"]
    for truth in info.values():
        assert set(truth.effects) == set(truth.variants[1:])
        assert all(set(effects) - set(CAROUSEL_METRICS) == set(METRICS)
                   for effects in truth.effects.values())
        assert sum(truth.intended_shares.values()) == pytest.approx(1.0)
    checkout = info["checkout_redesign"]
    assert checkout.effect("treatment", "revenue") == 0.04
    assert checkout.effect("treatment", "conversion") == 0.03
    assert 0 < checkout.effect("treatment", "orders") < 0.03
    assert checkout.effect("treatment", "sessions") == 0.0
    for zero in ("homepage_aa", "pricing_banner_srm"):
        assert set(info[zero].effects["treatment"].values()) == {0.0}
    search = info["search_ranking_3arm"]
    assert search.variants == ("control", "ranker_b", "ranker_c")
    assert search.effect("ranker_b", "sessions") == 0.04
    assert search.effect("ranker_b", "pages") > 0.04
    assert set(search.effects["ranker_c"].values()) == {0.0}
    assert info["homepage_aa"].is_aa and info["pricing_banner_srm"].is_srm
    assert search.is_multiarm and not checkout.is_aa
    trap = info["recs_carousel"]
    assert trap.is_trap and trap.effect("treatment", "carousel_views") == VIEWS_LIFT
    assert 0 < trap.effect("treatment", "carousel_saves") < JAPAN_SAVES_LIFT
    assert 0 < trap.effect("treatment", "carousel_clicks") < NOVELTY_LIFT
    assert trap.flag_mismatched_units > 0 and trap.logged_shares["control"] > 0.6


def window_population(n: int, seed: int) -> Population:
    """Users active before the window starts (time 0), so the 14-day window is fully theirs."""
    population = make_population(np.random.default_rng(seed), n, TIMELINE.history_start,
                                 TIMELINE.data_end)
    return dataclasses.replace(population, signup=np.full(n, -DAY))


def arm_ratio_lift(y: np.ndarray, expected: np.ndarray, treated: np.ndarray
                   ) -> tuple[float, float]:
    """Lift of sum(y)/sum(E[y | control]) between arms, with its delta-method standard error.

    Dividing by each user's known control expectation removes the between-user spread, leaving
    only the event noise, so the generator's mechanism is checked tightly at a modest size.
    """
    q, v = [], []
    for arm in (~treated, treated):
        ratio = y[arm].sum() / expected[arm].sum()
        q.append(ratio)
        v.append(np.sum((y[arm] - ratio * expected[arm]) ** 2) / expected[arm].sum() ** 2)
    lift = q[1] / q[0] - 1
    return lift, math.sqrt(v[1] / q[0] ** 2 + q[1] ** 2 * v[0] / q[0] ** 4)


def per_user(values: pa.Array, owners: np.ndarray, n: int) -> np.ndarray:
    filled = pc.fill_null(values, 0).to_numpy(zero_copy_only=False).astype(float)
    return np.bincount(owners, weights=filled, minlength=n)


def test_checkout_mechanism_reproduces_its_truths() -> None:
    n = 120_000
    population = window_population(n, seed=11)
    rng = np.random.default_rng(12)
    treated = np.arange(n) % 2 == 1
    effect = solve_checkout(population, np.arange(n))
    start = np.zeros(n)
    events = poisson_events(rng, population, population.order_rate, start, np.ones(n), 14 * DAY)
    events = rescue_orders(rng, events, treated, start, effect.rescue_rate)
    table = orders_table(rng, events, population, np.where(treated, 1 + effect.amount_lift, 1.0),
                         TIMELINE)
    net = pc.subtract(table["amount"], pc.fill_null(table["refund_amount"], 0.0))
    revenue = per_user(net.combine_chunks(), events.user, n)
    orders = np.bincount(events.user, minlength=n).astype(float)
    rate = 14 * population.order_rate
    checks = {
        "revenue": (revenue, rate * population.mean_amount()),
        "orders": (orders, rate),
        "conversion": ((orders > 0).astype(float), 1 - np.exp(-rate)),
    }
    for metric, (y, expected) in checks.items():
        lift, se = arm_ratio_lift(y, expected, treated)
        # Tight enough to tell the truth from a missing mechanism (revenue without the amount
        # lift would be ~+0.7%, conversion without rescues 0).
        assert se < 0.005, metric
        assert abs(lift - effect.truths[metric]) < 4 * se, (metric, lift, effect.truths[metric])


def test_search_mechanism_reproduces_its_truths() -> None:
    n = 100_000
    population = window_population(n, seed=21)
    rng = np.random.default_rng(22)
    treated = np.arange(n) % 2 == 1
    truths = search_truths(population, np.arange(n))
    events = poisson_events(rng, population, population.session_rate, np.zeros(n),
                            np.where(treated, 1.04, 1.0), 14 * DAY)
    table = sessions_table(rng, events, population, np.where(treated, 1.05, 1.0), TIMELINE)
    sessions = np.bincount(events.user, minlength=n).astype(float)
    pages = per_user(table["pages"].combine_chunks(), events.user, n)
    rate = 14 * population.session_rate
    for metric, y, expected in (("sessions", sessions, rate),
                                ("pages", pages, rate * (1 + population.extra_pages))):
        lift, se = arm_ratio_lift(y, expected, treated)
        assert se < 0.005, metric
        assert abs(lift - truths[metric]) < 4 * se, (metric, lift, truths[metric])
    duration = per_user(table["duration_s"].combine_chunks(), events.user, n)
    has = sessions > 0
    avg = duration[has] / sessions[has]
    arm = treated[has]
    diff = avg[arm].mean() / avg[~arm].mean() - 1
    se = math.sqrt(avg[arm].var() / arm.sum() + avg[~arm].var() / (~arm).sum()) / avg.mean()
    assert abs(diff) < 4 * se and se < 0.01


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=1000, max_value=20_000))
def test_user_ids_are_unique_and_odd_ones_exist(n: int) -> None:
    ids = make_user_ids(n)
    assert len(set(ids.tolist())) == n
    assert max(len(i) for i in ids.tolist()) == 300
    assert any(i.startswith("usér_") for i in ids.tolist())
    assert any(i.startswith("用户_") for i in ids.tolist())
