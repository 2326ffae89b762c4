"""Checks on who was exposed: the split by segment and by day, the hash, the stop criteria.

Each check is a pure function of :class:`Traffic` (the rows of
:func:`assay.checks.queries.traffic_selects`) and the spec, returning one :class:`Check` with a
sentence a product manager understands and what to do about it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from assay.checks.exposure import SRM_FAIL_P
from assay.checks.queries import (
    ASSIGNED,
    DAY,
    DIMENSION,
    GATED_OUT,
    OVERLAP_PREFIX,
    ROWS_DAY,
    SEGMENT_PREFIX,
    UNITS,
    VALUE,
    WATERMARK,
)
from assay.checks.wording import p_is
from assay.metrics.scan import VARIANT
from assay.results import Check, Status
from assay.spec.models import ExperimentSpec
from assay.stats.multiple import adjust_pvalues
from assay.stats.srm import srm_test

#: A share of exposed units in the wrong arm above this fails: a flag that does not follow the
#: spec (below it, stray QA traffic and the like warn).
MISMATCH_FAIL_SHARE = 0.001
#: Days an experiment may run on past its plan (or its end) before it counts as forgotten.
STOP_GRACE_DAYS = 7
#: Level of the test that the split differs between one column's values.
LOCATE_P = 0.05

Counts = dict[str, int]


@dataclass(frozen=True)
class Traffic:
    """Analysed units of one experiment, cut the ways the traffic checks need.

    Attributes:
        days: Day of first exposure -> variant -> units.
        segments: Segment column -> value -> variant -> units.
        assignment: ``(admitted by the gates, arm the hash gives, logged arm)`` -> units.
        rows_by_day: Every exposure row of the experiment (inside the dates or not) by day.
        watermark: Latest exposure time in the log (text), None without rows.
        rows: Exposure rows in all.
        overlaps: Other experiment -> (this arm, arm logged there) -> units in both.
    """

    days: dict[str, Counts] = field(default_factory=dict)
    segments: dict[str, dict[str, Counts]] = field(default_factory=dict)
    assignment: dict[tuple[bool, str | None, str], int] = field(default_factory=dict)
    rows_by_day: dict[str, int] = field(default_factory=dict)
    watermark: str | None = None
    rows: int = 0
    overlaps: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]]) -> Traffic:
        """Read the traffic rows of :func:`assay.checks.queries.checks_query` (others ignored)."""
        days: dict[str, Counts] = defaultdict(dict)
        segments: dict[str, dict[str, Counts]] = defaultdict(lambda: defaultdict(dict))
        assignment: dict[tuple[bool, str | None, str], int] = {}
        by_day: dict[str, int] = {}
        watermark, total = None, 0
        overlaps: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
        for row in rows:
            dim, value, n = str(row[DIMENSION]), row[VALUE], int(row[UNITS] or 0)
            variant = None if row[VARIANT] is None else str(row[VARIANT])
            if dim == DAY and variant is not None:
                days[str(value)][variant] = n
            elif dim.startswith(SEGMENT_PREFIX) and variant is not None:
                segments[dim.removeprefix(SEGMENT_PREFIX)][str(value)][variant] = n
            elif dim in (ASSIGNED, GATED_OUT) and variant is not None:
                key = (dim == ASSIGNED, None if value is None else str(value), variant)
                assignment[key] = n
            elif dim == ROWS_DAY:
                by_day[str(value)] = n
            elif dim == WATERMARK:
                watermark, total = (None if value is None else str(value)), n
            elif dim.startswith(OVERLAP_PREFIX) and variant is not None:
                overlaps[dim.removeprefix(OVERLAP_PREFIX)][(variant, str(value))] = n
        return cls(dict(sorted(days.items())),
                   {k: dict(sorted(v.items())) for k, v in sorted(segments.items())},
                   assignment, dict(sorted(by_day.items())), watermark, total,
                   {k: dict(sorted(v.items())) for k, v in sorted(overlaps.items())})


def traffic_checks(traffic: Traffic, experiment: ExperimentSpec, decided: bool) -> list[Check]:
    """The traffic checks, in report order."""
    return [
        srm_by_dimension(traffic, experiment),
        srm_by_day(traffic, experiment),
        assignment_matches_hash(traffic, experiment),
        stop_criteria(traffic, experiment, decided),
    ]


def _observed(counts: Counts, weights: dict[str, float]) -> list[int]:
    return [counts.get(v, 0) for v in weights]


def _share_text(counts: Counts, variant: str) -> str:
    total = sum(counts.values())
    return f"{counts.get(variant, 0) / total:.1%}" if total else "n/a"


def srm_by_dimension(traffic: Traffic, experiment: ExperimentSpec) -> Check:
    """The split within each segment value (Holm over every value of every segment column).

    A mismatch confined to some values of one column (the split differs between its values)
    points at those values' logging; one spread over every value points elsewhere.
    """
    name = "srm_by_dimension"
    weights = experiment.weights()
    if not experiment.segments:
        return Check(name, "pass", "no segment columns to locate a sample ratio mismatch in",
                     {}, code="no_segments",
                     remedy="declare `segments:` (platform, country ...) to see where one "
                            "comes from")
    cells = [(dim, value, counts) for dim, values in traffic.segments.items()
             for value, counts in values.items() if sum(_observed(counts, weights)) > 0]
    raw = [srm_test(_observed(c, weights), list(weights.values())).p_value for _, _, c in cells]
    adjusted = adjust_pvalues(raw, "holm") if raw else np.array([])
    off = [(cells[i], float(adjusted[i])) for i in np.argsort(adjusted) if adjusted[i] < SRM_FAIL_P]
    figures: dict[str, Any] = {
        "cells": [{"segment": d, "value": v, "units": c, "p_value_adjusted": float(p)}
                  for (d, v, c), p in zip(cells, adjusted, strict=True)]}
    if not off:
        listed = ", ".join(experiment.segments)
        return Check(name, "pass", f"the traffic split matches the design within every value of "
                     f"{listed}", figures)
    control = experiment.control.name
    intended = f"{weights[control]:.0%}"
    off_values = {(d, v) for (d, v, _), _ in off}
    localized = {d for (d, _, _), _ in off
                 if any((d, v) not in off_values for v in traffic.segments[d])
                 and _heterogeneous(traffic.segments[d], weights)}
    if not localized:
        return Check(
            name, "fail",
            f"the traffic split is off in every segment alike ({len(off)} of {len(cells)} "
            "segment values, e.g. " + ", ".join(
                f"{d} = {v}: {control} {_share_text(c, control)}" for (d, v, c), _ in off[:2])
            + f" vs {intended} intended): the cause is not one segment's logging",
            figures, code="srm_everywhere",
            remedy="look at the split by day and at the hash check: a ramp change or a flag that "
                   "does not follow assay's assignment shifts every segment")
    named = [(d, v, c, p) for (d, v, c), p in off if d in localized]
    listed = "; ".join(f"{d} = {v} ({control} {_share_text(c, control)} of its users vs "
                       f"{intended} intended, {p_is(p)})" for d, v, c, p in named)
    where = " and ".join(f"{d} = {v}" for d, v, _, _ in named)
    short = _short_arm(named[0][2], weights)
    figures["off"] = [{"segment": d, "value": v} for d, v, _, _ in named]
    return Check(
        name, "fail",
        f"the traffic split is off only in {listed}; the other values match the design, so "
        f"exposures of {where} users in {short} are being lost (or added elsewhere)",
        figures, code="srm_segment",
        remedy=f"check how {where} logs exposures for {short} (a crash, a missing or late "
               "exposure call); the comparison is biased until it is fixed, so do not decide on it")


def _heterogeneous(values: dict[str, Counts], weights: dict[str, float]) -> bool:
    """The split differs between the values of one column (chi-square of arm x value, at 5%:
    it only locates a mismatch the per-value tests already found)."""
    table = np.array([_observed(c, weights) for c in values.values() if sum(c.values()) > 0])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return False
    p = float(stats.chi2_contingency(table, correction=False)[1])
    return p < LOCATE_P


def _short_arm(counts: Counts, weights: dict[str, float]) -> str:
    total = sum(counts.get(v, 0) for v in weights)
    return min(weights, key=lambda v: counts.get(v, 0) / total - weights[v] if total else 0)


def srm_by_day(traffic: Traffic, experiment: ExperimentSpec) -> Check:
    """The split day by day: a change during the test (a ramp) or the same gap every day."""
    name = "srm_by_day"
    weights = experiment.weights()
    days = [d for d, c in traffic.days.items() if sum(_observed(c, weights)) > 0]
    if len(days) < 2:
        return Check(name, "pass", "too few days of exposures to follow the split over time",
                     {"days": len(days)})
    table = np.array([_observed(traffic.days[d], weights) for d in days], dtype=float)
    control = experiment.control.name
    shares = table[:, 0] / table.sum(axis=1)
    figures: dict[str, Any] = {"days": days,
                               f"{control}_share": [round(float(s), 5) for s in shares],
                               # units first exposed each day, per arm: the dashboard's chart
                               "units": {v: [int(traffic.days[d].get(v, 0)) for d in days]
                                         for v in weights}}
    overall = srm_test(list(table.sum(axis=0)), list(weights.values()))
    steady = table[table.sum(axis=1) >= 20]
    steady = steady[:, steady.sum(axis=0) > 0]
    p_change = (float(stats.chi2_contingency(steady, correction=False)[1])
                if steady.shape[0] >= 2 and steady.shape[1] >= 2 else 1.0)
    figures.update({"p_value_change": p_change, "p_value_overall": overall.p_value})
    if p_change < SRM_FAIL_P:
        k = _change_point(table)
        before = table[:k].sum(axis=0)
        after = table[k:].sum(axis=0)
        figures.update({"change_day": days[k]})
        return Check(
            name, "fail",
            f"the traffic split changed during the experiment: {control} got "
            f"{before[0] / before.sum():.0%} of users up to {days[k - 1]} and "
            f"{after[0] / after.sum():.0%} from {days[k]} ({p_is(p_change)}); a ramp-up or a "
            "configuration change moved the allocation mid-test, so early and late users are "
            "mixed differently in each arm",
            figures, code="ramp_change",
            remedy=f"analyse only the days with the intended split (e.g. `start: {days[k]}` if "
                   "that is the final allocation) or restart with a new salt; never pool "
                   "periods with different splits")
    if overall.p_value < SRM_FAIL_P:
        share = table[:, 0].sum() / table.sum()
        return Check(
            name, "fail",
            f"the split is off by the same amount every day ({control} {share:.1%} vs "
            f"{weights[control]:.0%} intended, steady over {len(days)} days): a constant loss "
            "such as a broken hash or a logging bug, not a ramp change",
            figures, code="constant_imbalance",
            remedy="compare the logged arms with assay's hash (the assignment check) and the "
                   "split by segment to find where exposures are lost")
    return Check(name, "pass", f"the traffic split held steady over {len(days)} days "
                 f"({p_is(p_change)})", figures)


def _change_point(table: np.ndarray) -> int:
    """The day index splitting the days into the two most different splits."""
    best, best_k = -1.0, 1
    for k in range(1, table.shape[0]):
        two = np.vstack([table[:k].sum(axis=0), table[k:].sum(axis=0)])
        two = two[:, two.sum(axis=0) > 0]
        if two.shape[1] < 2:
            continue
        statistic = float(stats.chi2_contingency(two, correction=False)[0])
        if statistic > best:
            best, best_k = statistic, k
    return best_k


def assignment_matches_hash(traffic: Traffic, experiment: ExperimentSpec) -> Check:
    """Share of exposed units logged in another arm than the one assay's hash assigns."""
    name = "assignment_vs_hash"
    total = sum(traffic.assignment.values())
    wrong = {k: n for k, n in traffic.assignment.items() if not k[0] or k[1] != k[2]}
    n_wrong = sum(wrong.values())
    share = n_wrong / total if total else 0.0
    figures: dict[str, Any] = {
        "units": total, "mismatched": n_wrong, "share": share,
        "pairs": [{"admitted": a, "hashed": h, "logged": v, "units": n}
                  for (a, h, v), n in sorted(wrong.items(), key=lambda kv: (-kv[1], str(kv[0])))]}
    caveat = " (targeting rules are not re-checked)" if experiment.targeting else ""
    if n_wrong and _independent(traffic.assignment):
        return Check(name, "pass", "the logged arms are unrelated to assay's hash: the "
                     "experiment is assigned by another system (a flag service), so this check "
                     "does not apply", figures, code="not_hash_assigned",
                     remedy="make sure that system's split matches the spec (the SRM checks "
                            "test it)")
    if n_wrong == 0:
        return Check(name, "pass", "every exposed user's logged arm is the arm assay's hash "
                     f"assigns{caveat}", figures)
    (admitted, hashed, logged), n = max(wrong.items(), key=lambda kv: kv[1])
    example = (f"{n:,} logged in {logged} whom the hash puts in {hashed}" if admitted
               and hashed is not None else f"{n:,} logged in {logged} whom the traffic gate "
               "keeps out of the experiment" if not admitted else
               f"{n:,} logged in {logged} whose bucket belongs to no arm")
    status: Status = "fail" if share > MISMATCH_FAIL_SHARE else "warn"
    return Check(
        name, status,
        f"{share:.1%} of exposed users ({n_wrong:,}) were logged in a different arm than assay's "
        f"hash assigns them ({example}){caveat}: whatever serves the experiment does not follow "
        "its spec",
        figures, code="flag_mismatch",
        remedy="serve the experiment with assay's assignment (the SDK or `assay sql "
               "--assignment`), or make the spec's salt, weights and traffic the ones the flag "
               "uses; users served the wrong arm bias the comparison")


def _independent(assignment: dict[tuple[bool, str | None, str], int]) -> bool:
    """The logged arm does not depend on the hashed one (chi-square of hashed x logged)."""
    hashed = sorted({str(h) for _, h, _ in assignment})
    logged = sorted({v for _, _, v in assignment})
    table = np.zeros((len(hashed), len(logged)))
    for (_, h, v), n in assignment.items():
        table[hashed.index(str(h)), logged.index(v)] += n
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return False
    return float(stats.chi2_contingency(table, correction=False)[1]) >= SRM_FAIL_P


def stop_criteria(traffic: Traffic, experiment: ExperimentSpec, decided: bool) -> Check:
    """Running well past the planned sample size, or logging past the planned end, undecided."""
    name = "stop_criteria"
    if decided:
        return Check(name, "pass", "a decision is recorded for this experiment", {})
    figures: dict[str, Any] = {}
    planned = experiment.planned_sample_size
    days = list(traffic.days)
    if planned is not None and days:
        cumulative = np.cumsum([sum(traffic.days[d].values()) for d in days])
        reached = int(np.searchsorted(cumulative, planned))
        if reached < len(days):
            first, hit, last = (dt.date.fromisoformat(days[i]) for i in (0, reached, -1))
            past, took = (last - hit).days, (hit - first).days + 1
            figures.update({"planned": planned, "reached_on": days[reached],
                            "days_past_plan": past, "units": int(cumulative[-1])})
            if past >= max(STOP_GRACE_DAYS, took // 2):
                return Check(
                    name, "warn",
                    f"the planned {planned:,} users were reached on {days[reached]}, but the "
                    f"experiment kept enrolling for {past} more days ({int(cumulative[-1]):,} "
                    "users) with no decision recorded: the extra days mostly add delay and "
                    "temptation to peek",
                    figures, code="ran_past_plan",
                    remedy="decide now from the planned sample, or record why the plan "
                           "changed")
    end = experiment.end_at()
    if end is not None and traffic.rows_by_day:
        last_row = dt.date.fromisoformat(list(traffic.rows_by_day)[-1])
        last_day = (end - dt.timedelta(microseconds=1)).date()  # `end:` is inclusive
        late = (last_row - last_day).days
        figures.update({"last_exposure_day": last_row.isoformat(), "days_past_end": late})
        if late >= STOP_GRACE_DAYS:
            return Check(
                name, "warn",
                f"exposures are still logged {late} days after the planned end "
                f"({last_day.isoformat()}) and no decision is recorded: the experiment is "
                "still live",
                figures, code="running_past_end",
                remedy="record a decision and turn the flag off (or move `end:` if the plan "
                       "changed)")
    return Check(name, "pass", "the experiment has not overrun its planned size or dates",
                 figures)
