"""The demo's trap: an experiment built to trip every trust check, and the one it copied its salt
from. Generated from their own random stream, after the four classic experiments, so those
keep their data and results exactly.

``recs_carousel`` (a carousel of recommendations, events in ``carousel_events``):

* its spec keeps the salt of ``onboarding_tips``, which runs at the same time: the same users
  get the same arms in both (salt reuse);
* for its first :data:`RAMP_DAYS` days the flag served treatment only to variant buckets
  ``[5000, 6000)`` (10%) and control to the rest, sticky afterwards: the logged split changes
  mid-test (a ramp) and differs from assay's hash;
* a promotion multiplies clicks by :data:`PROMO_MULTIPLIER` for everyone during those same days,
  so the early (control-heavy) cohort clicks more: pooled, clicks look worse in treatment although
  within every exposure day they are better (Simpson's paradox);
* the click effect is a novelty, x1.3 in a user's first 7 days after exposure and none after;
* views rise by :data:`VIEWS_LIFT` (significant, but below the spec's ``mde: 0.05``);
* saves rise by half in Japan only (5% of users: a small segment);
* only :data:`REACH_SHARE` of users ever reach the carousel (diluted exposure);
* it plans 8,000 users and enrolls some 48,000 (stop criteria).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from assay.assign.engine import CompiledExperiment
from assay.assign.hashing import SaltedHasher
from assay.demo.exposures import Enrollment, ExposureLog, Plan, enroll, exposure_log
from assay.demo.population import COUNTRIES, FloatArray, IntArray, Population, labels
from assay.demo.timeline import DAY, Timeline

CAROUSEL = "recs_carousel"
SALT_PARTNER = "onboarding_tips"
TRAPS = (SALT_PARTNER, CAROUSEL)
#: The random stream of the traps: a child of the seed no classic experiment uses.
TRAP_STREAM = 13

RAMP_DAYS = 3
#: Variant buckets the flag served treatment to during the ramp (10% instead of 50%).
RAMP_TREATMENT_BUCKETS = (5000, 6000)
PROMO_MULTIPLIER = 8.0
NOVELTY_LIFT, NOVELTY_DAYS = 0.3, 7
VIEWS_LIFT = 0.025
JAPAN_SAVES_LIFT = 0.5
REACH_SHARE = 0.45
#: Events per day of a user who reaches the carousel (times a gamma spread, mean 1).
VIEW_RATE, CLICK_RATE, SAVE_RATE = 0.8, 0.2, 0.1
EVENTS = ("view", "click", "save")
CAROUSEL_METRICS = ("carousel_views", "carousel_clicks", "carousel_saves")
WINDOW = 14 * DAY


@dataclass(frozen=True)
class TrapData:
    """What the traps add to the demo: enrollments (served arms), logs and the events table."""

    enrollments: dict[str, Enrollment]
    logs: dict[str, ExposureLog]
    events: pa.Table
    truths: dict[str, dict[str, float]]
    mismatched_units: int


def build_traps(seed: int, compiled: dict[str, CompiledExperiment], population: Population,
                timeline: Timeline) -> TrapData:
    """Enroll, log and generate the traps' data (a stream of ``seed`` of their own)."""
    rng = np.random.default_rng([seed, TRAP_STREAM])
    unit_ids = population.user_id.tolist()
    enrollments = {eid: enroll(rng, compiled[eid], unit_ids, timeline) for eid in TRAPS}
    served, mismatched = _ramp(enrollments[CAROUSEL], compiled[CAROUSEL], unit_ids, timeline)
    enrollments[CAROUSEL] = served
    logs = {eid: exposure_log(rng, e, Plan("aa" if eid == SALT_PARTNER else "trap"),
                              np.ones(e.units.size, dtype=bool), unit_ids, timeline)
            for eid, e in enrollments.items()}
    events, truths = _carousel_events(rng, population, served, timeline)
    return TrapData(enrollments, logs, events, {CAROUSEL: truths}, mismatched)


def _ramp(enrollment: Enrollment, compiled: CompiledExperiment, unit_ids: list[str],
          timeline: Timeline) -> tuple[Enrollment, int]:
    """The arms the ramping flag served: control for ramp-day units outside the 10% buckets."""
    start = enrollment.spec.start_at()
    assert start is not None
    ramp_end = timeline.seconds(start) + RAMP_DAYS * DAY
    buckets = SaltedHasher(compiled.spec.hash_salt).buckets(
        [unit_ids[i] for i in enrollment.units.tolist()])
    low, high = RAMP_TREATMENT_BUCKETS
    to_control = ((enrollment.first_exposure < ramp_end) & (enrollment.arm == 1)
                  & ((buckets < low) | (buckets >= high)))
    arm = np.where(to_control, 0, enrollment.arm)
    return replace(enrollment, arm=arm.astype(np.int64)), int(to_control.sum())


def _intervals(rng: np.random.Generator, rate: FloatArray, start: FloatArray,
               end: FloatArray, user: IntArray) -> tuple[IntArray, FloatArray]:
    """Poisson events at ``rate`` per day over ``[start, end)`` of each ``user`` (empty if
    ``end <= start``)."""
    length = np.maximum(end - start, 0.0)
    counts = rng.poisson(rate * length / DAY)
    owner = np.repeat(np.arange(user.size), counts)
    at = start[owner] + length[owner] * rng.random(owner.size)
    return user[owner], at


def _carousel_events(rng: np.random.Generator, population: Population, enrollment: Enrollment,
                     timeline: Timeline) -> tuple[pa.Table, dict[str, float]]:
    """The ``carousel_events`` table and the true relative effects over the enrolled units."""
    n, end = population.size, timeline.end_seconds
    reach = np.flatnonzero(rng.random(n) < REACH_SHARE)
    begin = np.maximum(population.signup[reach], 0.0)
    t0 = enrollment.exposure_of(n, end)[reach]
    treated = enrollment.arm_of(n)[reach] == 1
    start = enrollment.spec.start_at()
    assert start is not None
    promo = (timeline.seconds(start), timeline.seconds(start) + RAMP_DAYS * DAY)
    spread = {e: rng.gamma(2.0 if e != "view" else 4.0, 0.5 if e != "view" else 0.25, reach.size)
              for e in EVENTS}
    rates = {"view": VIEW_RATE * spread["view"], "click": CLICK_RATE * spread["click"],
             "save": SAVE_RATE * spread["save"]}
    japan = population.country[reach] == COUNTRIES.index("JP")
    never = np.full(reach.size, end)
    post = np.where(treated, t0, never)
    p0, p1 = np.full(reach.size, promo[0]), np.full(reach.size, promo[1])
    nov_end = np.where(treated, t0 + NOVELTY_DAYS * DAY, never)
    pieces = {
        "view": [(rates["view"], begin, np.full(reach.size, end)),
                 (rates["view"] * VIEWS_LIFT, post, np.full(reach.size, end))],
        "click": [(rates["click"], begin, np.full(reach.size, end)),
                  (rates["click"] * (PROMO_MULTIPLIER - 1), np.maximum(p0, begin), p1),
                  # the novelty's extra clicks, PROMO_MULTIPLIER times more during the promotion
                  (rates["click"] * NOVELTY_LIFT, post, nov_end),
                  (rates["click"] * NOVELTY_LIFT * (PROMO_MULTIPLIER - 1),
                   np.maximum(post, p0), np.minimum(nov_end, p1))],
        "save": [(rates["save"], begin, np.full(reach.size, end)),
                 (rates["save"] * JAPAN_SAVES_LIFT * japan, post, np.full(reach.size, end))],
    }
    users, times, kinds = [], [], []
    for k, (event, parts) in enumerate(pieces.items()):
        del event
        for rate, lo, hi in parts:
            u, at = _intervals(rng, rate, np.maximum(lo, begin), hi, reach)
            users.append(u)
            times.append(at)
            kinds.append(np.full(u.size, k))
    user, seconds, kind = np.concatenate(users), np.concatenate(times), np.concatenate(kinds)
    order = np.argsort(seconds, kind="stable")
    table = pa.table({
        "user_id": population.ids(user[order]),
        "event_at": timeline.timestamps(seconds[order]),
        "event": labels(EVENTS, kind[order]),
    })
    return table, _truths(population, enrollment, reach, rates, promo, timeline)


def _overlap(a: FloatArray, b: FloatArray, lo: float, hi: float) -> FloatArray:
    out: FloatArray = np.maximum(np.minimum(b, hi) - np.maximum(a, lo), 0.0)
    return out


def _truths(population: Population, enrollment: Enrollment, reach: IntArray,
            rates: dict[str, FloatArray], promo: tuple[float, float],
            timeline: Timeline) -> dict[str, float]:
    """``E[metric | treated] / E[metric | control] - 1`` over the units the hash enrolls, each
    unit's 14-day window from its first exposure (the quantity a fair comparison estimates)."""
    n = population.size
    in_exp = np.zeros(n, dtype=bool)
    in_exp[enrollment.units] = True
    keep = in_exp[reach]
    t0 = enrollment.exposure_of(n, timeline.end_seconds)[reach][keep]
    begin = np.maximum(population.signup[reach][keep], 0.0)
    lo = np.maximum(t0, begin)
    days = np.maximum(t0 + WINDOW - lo, 0.0) / DAY
    promo_days = _overlap(lo, t0 + WINDOW, *promo) / DAY
    nov = _overlap(lo, t0 + NOVELTY_DAYS * DAY, -np.inf, np.inf) / DAY
    nov_promo = _overlap(lo, np.minimum(t0 + NOVELTY_DAYS * DAY, t0 + WINDOW), *promo) / DAY
    click = rates["click"][keep]
    base_clicks = click * (days + (PROMO_MULTIPLIER - 1) * promo_days)
    extra = click * NOVELTY_LIFT * (nov + (PROMO_MULTIPLIER - 1) * nov_promo)
    japan = population.country[reach][keep] == COUNTRIES.index("JP")
    save = rates["save"][keep] * days
    return {
        "carousel_views": VIEWS_LIFT,
        "carousel_clicks": float(extra.sum() / base_clicks.sum()),
        "carousel_saves": float(JAPAN_SAVES_LIFT * save[japan].sum() / save.sum()),
    }


