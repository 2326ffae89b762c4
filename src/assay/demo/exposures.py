"""Who enters each demo experiment, in which arm, when, and the exposure log that records it.

Who enters and in which arm is decided by assay's own assignment (:mod:`assay.assign.engine`,
the code behind the SDK and ``assay assign``) from the experiment's spec: its salt, traffic and
weights. So ``assay assign <experiment> --units ...`` on a demo unit gives the arm the data hold.

The log is deliberately imperfect, as real logs are: a handful of exact duplicate rows, a few
units logged in two arms, a few exposures outside the experiment's dates and, for the SRM
experiment, a bug that silently drops part of the control arm's exposures on Android. These are
logging faults: the assignment behind them is the salted hash's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from assay.assign.engine import CompiledExperiment, compile_experiments
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

Kind = Literal["effect", "aa", "srm", "multiarm", "trap"]

#: Logged control share in the SRM experiment (the intended share is 0.5).
SRM_LOGGED_CONTROL_SHARE = 0.48
#: The platform whose control exposures the SRM logging bug drops.
SRM_DROPPED_PLATFORM = "android"


@dataclass(frozen=True)
class Plan:
    """How the generator treats one experiment.

    Attributes:
        kind: ``effect`` (real effect), ``aa``, ``srm`` or ``multiarm``.
        duplicate_rows: Exact duplicate exposure rows added to the log.
        multi_variant_units: Units that get a second exposure row in another arm.
        out_of_window_rows: Exposure rows (of otherwise unenrolled users) outside the dates.
    """

    kind: Kind
    duplicate_rows: int = 0
    multi_variant_units: int = 0
    out_of_window_rows: int = 0


PLANS: dict[str, Plan] = {
    "checkout_redesign": Plan("effect", duplicate_rows=12, multi_variant_units=9,
                              out_of_window_rows=10),
    "homepage_aa": Plan("aa", duplicate_rows=8, out_of_window_rows=6),
    "pricing_banner_srm": Plan("srm"),
    "search_ranking_3arm": Plan("multiarm", duplicate_rows=6, multi_variant_units=5),
    # the traps (assay.demo.traps), generated after the four above from a stream of their own
    "onboarding_tips": Plan("aa"),
    "recs_carousel": Plan("trap"),
}


@dataclass(frozen=True)
class Enrollment:
    """The assignment of one experiment (the truth, before any logging problem).

    Attributes:
        spec: The experiment's spec (variants, traffic, dates).
        units: User indices assay's assignment puts in the experiment.
        arm: Index into ``spec.variants`` for each unit (the arm assay assigns it).
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


def enroll(rng: np.random.Generator, experiment: CompiledExperiment, unit_ids: Sequence[str],
           timeline: Timeline) -> Enrollment:
    """The units ``experiment`` assigns to an arm, with the arm assay's assignment gives them.

    ``unit_ids[i]`` is user index ``i``. The arms are the salted hash's (the traffic gate, then
    the variant hash), exactly what the SDK and ``assay assign`` answer for these ids; ``rng``
    only draws the first exposure times, inside the experiment's dates and front-loaded as in
    real launches (most returning users show up in the first days).
    """
    spec = experiment.spec
    arm_all = arm_indices(spec, experiment.variants(list(unit_ids)))
    units = np.flatnonzero(arm_all >= 0)
    start, end = _window(spec, timeline)
    first = start + (end - start) * rng.random(units.size) ** 1.6
    return Enrollment(spec, units.astype(np.int64), arm_all[units], first)


def arm_indices(spec: ExperimentSpec, variants: npt.NDArray[np.object_]) -> IntArray:
    """Index into ``spec.variants`` of each assigned variant name, ``-1`` for None."""
    out = np.full(len(variants), -1, dtype=np.int64)
    for i, variant in enumerate(spec.variants):
        out[variants == variant.name] = i
    return out


def ungated(spec: ExperimentSpec) -> CompiledExperiment:
    """``spec`` with its traffic gate open: the variant hash alone decides the arm."""
    return compile_experiments([spec.model_copy(update={"traffic": 1.0})])[spec.id]


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
                 keep: npt.NDArray[np.bool_], unit_ids: Sequence[str],
                 timeline: Timeline) -> ExposureLog:
    """The logged rows: one per kept unit, plus the plan's duplicates, multi-arm and stray rows.

    ``unit_ids[i]`` is user index ``i`` (the stray rows' arms are hashed from it).
    """
    user = enrollment.units[keep]
    arm = enrollment.arm[keep]
    seconds = enrollment.first_exposure[keep]
    n_arms = len(enrollment.spec.variants)
    _, end = _window(enrollment.spec, timeline)

    dup = rng.choice(user.size, size=min(plan.duplicate_rows, user.size), replace=False)
    multi = rng.choice(user.size, size=min(plan.multi_variant_units, user.size), replace=False)
    other_arm = (arm[multi] + rng.integers(1, n_arms, size=multi.size)) % n_arms
    multi_at = seconds[multi] + (end - seconds[multi]) * rng.random(multi.size)
    stray, stray_arm, stray_at = _stray_rows(rng, enrollment, plan, unit_ids, timeline)

    return ExposureLog(
        user=np.concatenate([user, user[dup], user[multi], stray]),
        arm=np.concatenate([arm, arm[dup], other_arm, stray_arm]),
        seconds=np.concatenate([seconds, seconds[dup], multi_at, stray_at]),
        duplicate_rows=int(dup.size), multi_variant_units=int(multi.size),
        out_of_window_rows=int(stray.size),
    )


def _stray_rows(rng: np.random.Generator, enrollment: Enrollment, plan: Plan,
                unit_ids: Sequence[str], timeline: Timeline
                ) -> tuple[IntArray, IntArray, FloatArray]:
    """Users, arms and times of the rows logged outside the dates, half before, half after.

    They belong to users the traffic gate keeps out, as logged by a client that skipped the gate
    and the dates: each carries the arm the variant hash alone gives it.
    """
    if plan.out_of_window_rows == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
    outside = np.ones(len(unit_ids), dtype=bool)
    outside[enrollment.units] = False
    outsiders = np.flatnonzero(outside)
    # Hash a few random outsiders only; some buckets belong to no arm (anchored slots in
    # docs/assignment.md), so draw more than needed and keep the first that have one.
    pool = rng.permutation(outsiders)[:4 * plan.out_of_window_rows]
    spec = enrollment.spec
    arm_pool = arm_indices(spec, ungated(spec).variants([unit_ids[i] for i in pool.tolist()]))
    pick = np.flatnonzero(arm_pool >= 0)[:plan.out_of_window_rows]
    start, end = _window(spec, timeline)
    before = np.arange(pick.size) % 2 == 0
    at = np.where(before, start - DAY * (1 + 2 * rng.random(pick.size)),
                  end + DAY * 3 * rng.random(pick.size))
    return pool[pick].astype(np.int64), arm_pool[pick], at


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
