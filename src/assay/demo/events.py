"""Sessions and orders: Poisson processes per user, with the experiments' true effects applied.

Each user's events form a Poisson process with the user's own rate, split at the user's first
exposure so that a treatment can change the rate (sessions) or the values (pages, amounts) from
that moment on. Everything is vectorised: one draw per segment, one ``repeat`` to expand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from assay.demo.population import AMOUNT_SIGMA, FloatArray, IntArray, Population, labels
from assay.demo.timeline import METRIC_WINDOW, Timeline

WINDOW_SECONDS = METRIC_WINDOW.total_seconds()
#: Order outcomes that do not depend on any arm (so they scale out of every relative effect).
NULL_AMOUNT_SHARE = 0.004
REFUND_SHARE = 0.06
FULL_REFUND_SHARE = 0.7
ORDER_STATUSES = ("completed", "refunded", "partially_refunded", "pending")


@dataclass(frozen=True)
class Events:
    """Event owners (user index) and times (seconds since the history start), time-ordered."""

    user: IntArray
    seconds: FloatArray
    post: np.ndarray  # True for events at or after the owner's split point (first exposure)


def poisson_events(rng: np.random.Generator, population: Population, rate: FloatArray,
                   split: FloatArray, post_multiplier: FloatArray, end: float) -> Events:
    """Events of every user over ``[max(signup, 0), end)``, the rate multiplied after ``split``.

    Args:
        rng: Random generator.
        population: The users (their signups bound the start).
        rate: Events per day per user before ``split``.
        split: Seconds of each user's split point (``end`` for users with none).
        post_multiplier: Rate multiplier from ``split`` on.
        end: Seconds of the end of the data.
    """
    begin = np.maximum(population.signup, 0.0)
    split = np.clip(split, begin, end)
    seg_start = np.concatenate([begin, split])
    seg_end = np.concatenate([split, np.full_like(split, end)])
    seg_rate = np.concatenate([rate, rate * post_multiplier]) / 86400.0
    counts = rng.poisson(seg_rate * (seg_end - seg_start))
    seg = np.repeat(np.arange(seg_start.size), counts)
    seconds = seg_start[seg] + (seg_end - seg_start)[seg] * rng.random(seg.size)
    user = seg % population.size
    order = np.argsort(seconds, kind="stable")
    return Events(user[order], seconds[order], (seg >= population.size)[order])


def rescue_orders(rng: np.random.Generator, orders: Events, treated: np.ndarray,
                  exposure: FloatArray, rescue_rate: float) -> Events:
    """Add one order, with probability ``rescue_rate``, for treated users with none in the window.

    This is the checkout redesign's conversion effect: it lets some users who would not have
    bought in their 14-day window finish a purchase.
    """
    n = exposure.size
    in_window = (orders.seconds >= exposure[orders.user]) & \
        (orders.seconds < exposure[orders.user] + WINDOW_SECONDS)
    has_order = np.bincount(orders.user[in_window], minlength=n) > 0
    rescued = np.flatnonzero(treated & ~has_order & (rng.random(n) < rescue_rate))
    at = exposure[rescued] + WINDOW_SECONDS * rng.random(rescued.size)
    user = np.concatenate([orders.user, rescued])
    seconds = np.concatenate([orders.seconds, at])
    post = np.concatenate([orders.post, np.ones(rescued.size, dtype=bool)])
    order = np.argsort(seconds, kind="stable")
    return Events(user[order], seconds[order], post[order])


def orders_table(rng: np.random.Generator, orders: Events, population: Population,
                 amount_multiplier: FloatArray, timeline: Timeline) -> pa.Table:
    """The ``orders`` table: log-normal amounts (multiplied after exposure), refunds, statuses.

    ``amount_multiplier`` is per user and applies to the user's post-exposure orders.
    """
    n = orders.user.size
    mult = np.where(orders.post, amount_multiplier[orders.user], 1.0)
    amount = np.round(np.exp(population.basket_log[orders.user]
                             + AMOUNT_SIGMA * rng.standard_normal(n)) * mult, 2)
    null_amount = rng.random(n) < NULL_AMOUNT_SHARE
    refunded = ~null_amount & (rng.random(n) < REFUND_SHARE)
    full = rng.random(n) < FULL_REFUND_SHARE
    refund = np.where(full, amount, np.round(amount * rng.uniform(0.2, 0.8, n), 2))
    status = np.where(null_amount, 3, np.where(refunded, np.where(full, 1, 2), 0))
    return pa.table({
        "order_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
        "user_id": population.ids(orders.user),
        "created_at": timeline.timestamps(orders.seconds),
        "amount": pa.array(amount, pa.float64(), mask=null_amount),
        "currency": labels(("USD",), np.zeros(n, dtype=np.int64)),
        "refunded": pa.array(refunded),
        "refund_amount": pa.array(refund, pa.float64(), mask=~refunded),
        "status": labels(ORDER_STATUSES, status),
    })


def sessions_table(rng: np.random.Generator, sessions: Events, population: Population,
                   pages_multiplier: FloatArray, timeline: Timeline) -> pa.Table:
    """The ``sessions`` table: pages ``1 + Poisson(extra)`` (extra multiplied after exposure)."""
    n = sessions.user.size
    mult = np.where(sessions.post, pages_multiplier[sessions.user], 1.0)
    pages = 1 + rng.poisson(population.extra_pages[sessions.user] * mult)
    duration = np.round(np.exp(population.duration_log[sessions.user]
                               + 0.8 * rng.standard_normal(n)), 1)
    return pa.table({
        "session_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
        "user_id": population.ids(sessions.user),
        "started_at": timeline.timestamps(sessions.seconds),
        "duration_s": pa.array(duration, pa.float64()),
        "pages": pa.array(pages.astype(np.int32)),
    })
