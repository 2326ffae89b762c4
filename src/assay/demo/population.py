"""The demo's users: ids, attributes and the persistent propensities that drive their events.

Every user keeps the same order rate, basket size, visit rate and browsing depth for the whole
history, which is what gives the pre-period its predictive power (CUPED's covariate).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pyarrow as pa

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

COUNTRIES = ("US", "GB", "DE", "FR", "BR", "JP", "IN")
COUNTRY_SHARES = (0.40, 0.15, 0.15, 0.10, 0.10, 0.05, 0.05)
#: Log-basket shift by country (richer basket in some markets); a persistent covariate.
COUNTRY_SPEND = (0.10, 0.05, 0.05, 0.0, -0.25, 0.15, -0.35)
PLATFORMS = ("ios", "android", "web")
PLATFORM_SHARES = (0.40, 0.45, 0.15)
PLATFORM_SPEND = (0.15, -0.10, 0.05)
CHANNELS = ("organic", "paid_search", "social", "referral")
CHANNEL_SHARES = (0.45, 0.25, 0.20, 0.10)

#: Mean orders per user per day, and the gamma shape of its spread across users.
ORDER_RATE = 4.0 / 14.0
ORDER_SHAPE = 2.0
#: Log-normal order amounts: user location ``BASKET_LOG + shifts + N(0, BASKET_SPREAD)``,
#: per-order noise ``AMOUNT_SIGMA`` (the heavy tail).
BASKET_LOG = 3.4
BASKET_SPREAD = 0.45
AMOUNT_SIGMA = 0.75
#: Mean sessions per user per day, its gamma shape; mean extra pages per session.
SESSION_RATE = 0.5
SESSION_SHAPE = 2.0
EXTRA_PAGES = 4.0
LONG_ID_LENGTH = 300


@dataclass(frozen=True)
class Population:
    """Users and their latent propensities (index ``i`` is the same user everywhere).

    Attributes:
        user_id: Unique string ids (a few non-ASCII ones and one very long one).
        signup: Signup time, seconds since the history start (negative = before it).
        country: Index into :data:`COUNTRIES`.
        platform: Index into :data:`PLATFORMS`.
        channel: Index into :data:`CHANNELS`.
        order_rate: Expected orders per day.
        basket_log: Location of the user's log-normal order amounts.
        session_rate: Expected sessions per day.
        extra_pages: Expected pages per session beyond the first.
        duration_log: Location of the user's log-normal session durations (seconds).
    """

    user_id: npt.NDArray[np.str_]
    signup: FloatArray
    country: IntArray
    platform: IntArray
    channel: IntArray
    order_rate: FloatArray
    basket_log: FloatArray
    session_rate: FloatArray
    extra_pages: FloatArray
    duration_log: FloatArray

    @property
    def size(self) -> int:
        """Number of users."""
        return int(self.user_id.shape[0])

    def ids(self, index: IntArray) -> pa.Array:
        """User ids of the given user indices, as Arrow strings.

        Taken in Arrow: a numpy unicode array is fixed-width, and the one 300-character id would
        make every gathered element that wide.
        """
        return self.id_array.take(pa.array(index))

    @cached_property
    def id_array(self) -> pa.Array:
        """All user ids as an Arrow string array."""
        return pa.array(self.user_id.tolist(), pa.string())

    def mean_amount(self) -> FloatArray:
        """Each user's expected order amount, ``exp(mu + sigma^2 / 2)``."""
        return np.exp(self.basket_log + AMOUNT_SIGMA**2 / 2)


def labels(names: Sequence[str], codes: npt.NDArray[np.integer]) -> pa.Array:
    """An Arrow string column holding ``names[code]`` for each code."""
    return pa.array(list(names), pa.string()).take(pa.array(codes))


def make_user_ids(n: int) -> npt.NDArray[np.str_]:
    """``u_000123`` style ids, with some ``usér_`` and ``用户_`` ones and one 300-character id.

    The odd ids exist to exercise quoting, hashing and joins on non-ASCII and long keys.
    """
    index = np.arange(n)
    digits = np.char.zfill(index.astype(str), 6)
    prefix = np.full(n, "u_", dtype=object)
    prefix[index % 1000 == 137] = "usér_"
    prefix[index % 1000 == 571] = "用户_"
    ids = np.char.add(prefix.astype(str), digits).astype(object)
    long_at = min(4242, n - 1)
    stem = f"u_{long_at:06d}_"
    ids[long_at] = stem + "x" * (LONG_ID_LENGTH - len(stem))
    return ids.astype(str)


def make_population(rng: np.random.Generator, n: int, history_start: dt.datetime,
                    first_start: dt.datetime) -> Population:
    """Draw ``n`` users.

    85% signed up long before the history starts; 15% during the pre-period (up to a day before
    the first experiment starts), so their pre-period covariate is partly empty, as in real data.
    """
    country = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_SHARES)
    platform = rng.choice(len(PLATFORMS), size=n, p=PLATFORM_SHARES)
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARES)
    pre_days = (first_start - history_start).total_seconds() / 86400 - 1
    recent = rng.random(n) < 0.15
    signup_days = np.where(recent, rng.random(n) * pre_days, -rng.random(n) * 540.0 - 1.0)
    # A shared engagement factor makes frequent buyers also frequent visitors.
    engagement = rng.gamma(6.0, 1 / 6.0, size=n)
    order_rate = ORDER_RATE * engagement * rng.gamma(ORDER_SHAPE, 1 / ORDER_SHAPE, size=n)
    session_rate = SESSION_RATE * engagement * rng.gamma(SESSION_SHAPE, 1 / SESSION_SHAPE, size=n)
    basket_log = (BASKET_LOG + np.asarray(COUNTRY_SPEND)[country]
                  + np.asarray(PLATFORM_SPEND)[platform] + rng.normal(0.0, BASKET_SPREAD, n))
    return Population(
        user_id=make_user_ids(n),
        signup=np.round(signup_days * 86400.0),
        country=country.astype(np.int64),
        platform=platform.astype(np.int64),
        channel=channel.astype(np.int64),
        order_rate=order_rate,
        basket_log=basket_log,
        session_rate=session_rate,
        extra_pages=rng.gamma(3.0, EXTRA_PAGES / 3.0, size=n),
        duration_log=rng.normal(np.log(80.0), 0.5, size=n),
    )
