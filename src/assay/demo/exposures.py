"""Who enters each demo experiment, in which arm, when, and the exposure log that records it.

The log is deliberately imperfect, as real logs are: a handful of exact duplicate rows, a few
units logged in two arms, a few exposures outside the experiment's dates and, for the SRM
experiment, a bug that silently drops part of the control arm's exposures on Android.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from assay.demo.population import (
    COUNTRIES,
    PLATFORMS,
    FloatArray,
    IntArray,
    Population,
    labels,
)
from assay.demo.timeline import DAY, Timeline
from assay.spec.models import ExperimentSpec

Kind = Literal["effect", "aa", "srm", "multiarm"]

#: Logged control share in the SRM experiment (the intended share is 0.5).
SRM_LOGGED_CONTROL_SHARE = 0.48
#: The platform whose control exposures the SRM logging bug drops.
SRM_DROPPED_PLATFORM = "android"


@dataclass(frozen=True)
class Plan:
    """How the generator treats one experiment.

    Attributes:
        kind: ``effect`` (real effect), ``aa``, ``srm`` or ``multiarm``.
        enrolled_share: Share of all users randomised into the experiment.
        duplicate_rows: Exact duplicate exposure rows added to the log.
        multi_variant_units: Units that get a second exposure row in another arm.
        out_of_window_rows: Exposure rows (of otherwise unenrolled users) outside the dates.
    """

    kind: Kind
    enrolled_share: float
    duplicate_rows: int = 0
    multi_variant_units: int = 0
    out_of_window_rows: int = 0


PLANS: dict[str, Plan] = {
    "checkout_redesign": Plan("effect", 0.95, duplicate_rows=12, multi_variant_units=9,
                              out_of_window_rows=10),
    "homepage_aa": Plan("aa", 0.50, duplicate_rows=8, out_of_window_rows=6),
    "pricing_banner_srm": Plan("srm", 0.50),
    "search_ranking_3arm": Plan("multiarm", 0.75, duplicate_rows=6, multi_variant_units=5),
}


@dataclass(frozen=True)
class Enrollment:
    """The randomisation of one experiment (the truth, before any logging problem).

    Attributes:
        spec: The experiment's spec (variants, dates).
        units: User indices randomised into the experiment.
        arm: Index into ``spec.variants`` for each unit.
        first_exposure: Seconds since the history start of each unit's first exposure.
    """

    spec: ExperimentSpec
    units: IntArray
    arm: IntArray
    first_exposure: FloatArray

    def arm_of(self, n_users: int) -> IntArray:
        """Arm per user index, ``-1`` for users not in the experiment."""
        out = np.full(n_users, -1, dtype=np.int64)
        out[self.units] = self.arm
        return out

    def exposure_of(self, n_users: int, default: float) -> FloatArray:
        """First exposure per user index, ``default`` for users not in the experiment."""
        out = np.full(n_users, default, dtype=np.float64)
        out[self.units] = self.first_exposure
        return out


def enroll(rng: np.random.Generator, spec: ExperimentSpec, plan: Plan, n_users: int,
           timeline: Timeline) -> Enrollment:
    """Randomise a share of users into ``spec``'s arms by its weights.

    First exposures fall inside the experiment's dates, front-loaded as in real launches (most
    returning users show up in the first days).
    """
    units = np.flatnonzero(rng.random(n_users) < plan.enrolled_share)
    weights = np.asarray(list(spec.weights().values()))
    arm = rng.choice(len(weights), size=units.size, p=weights)
    start, end = _window(spec, timeline)
    first = start + (end - start) * rng.random(units.size) ** 1.6
    return Enrollment(spec, units.astype(np.int64), arm.astype(np.int64), first)


def logged_units(rng: np.random.Generator, enrollment: Enrollment, plan: Plan,
                 population: Population) -> npt.NDArray[np.bool_]:
    """Which enrolled units the exposure log records (all of them unless the plan is ``srm``).

    The SRM bug drops exactly enough Android control exposures for the logged control share to
    be :data:`SRM_LOGGED_CONTROL_SHARE`.
    """
    keep = np.ones(enrollment.units.size, dtype=bool)
    if plan.kind != "srm":
        return keep
    control = enrollment.arm == 0
    n_control, n_treatment = int(control.sum()), int((~control).sum())
    target = SRM_LOGGED_CONTROL_SHARE / (1 - SRM_LOGGED_CONTROL_SHARE) * n_treatment
    android = PLATFORMS.index(SRM_DROPPED_PLATFORM)
    candidates = np.flatnonzero(control & (population.platform[enrollment.units] == android))
    n_drop = min(candidates.size, max(0, round(n_control - target)))
    keep[rng.choice(candidates, size=n_drop, replace=False)] = False
    return keep


@dataclass(frozen=True)
class ExposureLog:
    """Exposure rows of one experiment (as user index, arm and time) and what was injected."""

    user: IntArray
    arm: IntArray
    seconds: FloatArray
    duplicate_rows: int
    multi_variant_units: int
    out_of_window_rows: int


def exposure_log(rng: np.random.Generator, enrollment: Enrollment, plan: Plan,
                 keep: npt.NDArray[np.bool_], n_users: int, timeline: Timeline) -> ExposureLog:
    """The logged rows: one per kept unit, plus the plan's duplicates, multi-arm and stray rows."""
    user = enrollment.units[keep]
    arm = enrollment.arm[keep]
    seconds = enrollment.first_exposure[keep]
    n_arms = len(enrollment.spec.variants)
    start, end = _window(enrollment.spec, timeline)

    dup = rng.choice(user.size, size=min(plan.duplicate_rows, user.size), replace=False)
    multi = rng.choice(user.size, size=min(plan.multi_variant_units, user.size), replace=False)
    other_arm = (arm[multi] + rng.integers(1, n_arms, size=multi.size)) % n_arms
    multi_at = seconds[multi] + (end - seconds[multi]) * rng.random(multi.size)

    outsiders = np.setdiff1d(np.arange(n_users), enrollment.units)
    stray = rng.choice(outsiders, size=min(plan.out_of_window_rows, outsiders.size),
                       replace=False)
    before = np.arange(stray.size) % 2 == 0
    stray_at = np.where(before, start - DAY * (1 + 2 * rng.random(stray.size)),
                        end + DAY * 3 * rng.random(stray.size))
    stray_arm = rng.integers(0, n_arms, size=stray.size)

    return ExposureLog(
        user=np.concatenate([user, user[dup], user[multi], stray]),
        arm=np.concatenate([arm, arm[dup], other_arm, stray_arm]),
        seconds=np.concatenate([seconds, seconds[dup], multi_at, stray_at]),
        duplicate_rows=int(dup.size), multi_variant_units=int(multi.size),
        out_of_window_rows=int(stray.size),
    )


def exposures_table(logs: dict[str, ExposureLog], specs: dict[str, ExperimentSpec],
                    population: Population, timeline: Timeline) -> pa.Table:
    """All experiments' exposure rows as the ``exposures`` table, ordered by time."""
    ids = list(logs)
    experiment = np.concatenate([np.full(logs[e].user.size, i) for i, e in enumerate(ids)])
    variant = np.concatenate([logs[e].arm + _arm_offset(ids, specs, e) for e in ids])
    variant_names = [v.name for e in ids for v in specs[e].variants]
    seconds = np.concatenate([logs[e].seconds for e in ids])
    order = np.argsort(seconds, kind="stable")
    user = np.concatenate([logs[e].user for e in ids])[order]
    return pa.table({
        "experiment_id": labels(ids, experiment[order]),
        "variant": labels(variant_names, variant[order]),
        "unit_id": population.ids(user),
        "timestamp": timeline.timestamps(seconds[order]),
        "country": labels(COUNTRIES, population.country[user]),
        "platform": labels(PLATFORMS, population.platform[user]),
    })


def _arm_offset(ids: list[str], specs: dict[str, ExperimentSpec], experiment_id: str) -> int:
    """Position of the experiment's first arm in the flat list of every experiment's arms."""
    return sum(len(specs[e].variants) for e in ids[:ids.index(experiment_id)])


def _window(spec: ExperimentSpec, timeline: Timeline) -> tuple[float, float]:
    start, end = spec.start_at(), spec.end_at()
    if start is None or end is None:
        raise ValueError(f"demo experiment {spec.id} needs `start` and `end`")
    return timeline.seconds(start), timeline.seconds(end)
