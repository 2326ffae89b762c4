"""Checks for the seed's pitfalls that read the results and the by-day breakdowns.

Pure functions: each takes figures already computed (metric results, activity counts, the
``activity`` rows of :func:`assay.checks.queries.checks_query`) and returns one :class:`Check`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from assay.checks.queries import SINCE_PREFIX
from assay.checks.wording import p_is
from assay.results import Check, MetricResult
from assay.spec.models import ExperimentSpec

#: A segment holding less than this share of the units is small (pitfall 9).
SMALL_SEGMENT_SHARE = 0.10
#: Evidence an estimate needs (|z|) before an opposite sign counts as Simpson's paradox.
SIMPSON_Z = 2.0
#: A trend of the effect with time since exposure is flagged below this p-value (strict: the
#: check runs on every primary metric of every analysis).
NOVELTY_P = 0.001
#: At least this share of exposed units with no activity at all suggests diluted exposure.
DILUTION_SHARE = 0.40
#: Relative tolerance of "identical figures" between two runs on the same inputs.
REPRODUCIBLE_RTOL = 1e-9


def practical_significance(results: Sequence[MetricResult], experiment: ExperimentSpec) -> Check:
    """Significant effects smaller than the spec's minimum effect of interest (pitfall 11)."""
    name = "practical_significance"
    mde = experiment.mde
    if mde is None:
        return Check(name, "pass", "no `mde:` in the spec, so significant effects are not "
                     "compared with an effect worth having", {}, code="no_mde",
                     remedy="set `mde:` (e.g. 0.02 for 2%) to the smallest effect worth shipping")
    small = [r for r in results if r.error is None and r.significant and abs(r.rel_lift) < mde]
    figures: dict[str, Any] = {"mde": mde, "metrics": [f"{r.metric}:{r.variant}" for r in small]}
    if not small:
        return Check(name, "pass", f"every significant effect is at least the minimum effect of "
                     f"interest ({mde:.0%})", figures)
    r = min(small, key=lambda r: abs(r.rel_lift))
    low, high = r.rel_lift_ci
    below = max(abs(low), abs(high)) < mde
    more = f" ({len(small) - 1} more)" if len(small) > 1 else ""
    return Check(
        name, "warn",
        f"{r.metric} moved {r.rel_lift:+.1%} in {r.variant} ({1 - experiment.alpha:.0%} CI "
        f"{low:+.1%} to {high:+.1%}){more}: statistically significant but smaller than the "
        f"{mde:.0%} set as worth having" + ("; the whole interval is below it" if below else ""),
        figures, code="below_mde",
        remedy="judge it on value and cost: the effect is probably real but small; ship only if "
               f"{r.rel_lift:+.1%} pays for the change")


def _segment_share(segment: MetricResult, overall: MetricResult) -> float:
    total = overall.n_control + overall.n_treatment
    return (segment.n_control + segment.n_treatment) / total if total else math.nan


def segment_claims(results: Sequence[MetricResult], segments: Sequence[MetricResult]) -> Check:
    """Significant segment results in a small segment or without an overall effect (pitfall 9)."""
    name = "segment_claims"
    overall = {(r.metric, r.variant): r for r in results}
    flagged = []
    for s in segments:
        o = overall.get((s.metric, s.variant))
        if o is None or s.error is not None or not s.significant:
            continue
        share = _segment_share(s, o)
        if share < SMALL_SEGMENT_SHARE or not o.significant:
            flagged.append((s, o, share))
    figures = {"flagged": [{"metric": s.metric, "variant": s.variant, "segment": s.segment,
                            "value": s.segment_value, "share": share, "rel_lift": s.rel_lift}
                           for s, _, share in flagged]}
    if not flagged:
        return Check(name, "pass", "no segment result stands out on its own", figures)
    s, o, share = max(flagged, key=lambda f: abs(f[0].rel_lift))
    reasons = []
    if share < SMALL_SEGMENT_SHARE:
        reasons.append(f"{s.segment} = {s.segment_value} holds only {share:.0%} of users")
    if not o.significant:
        reasons.append("the overall effect is not significant")
    more = f" ({len(flagged) - 1} more)" if len(flagged) > 1 else ""
    return Check(
        name, "warn",
        f"{s.metric} moved {s.rel_lift:+.0%} in {s.variant} for {s.segment} = "
        f"{s.segment_value}{more}, but {' and '.join(reasons)}: a result like this is often "
        "noise or an instrumentation quirk of that segment",
        figures, code="segment_overclaim",
        remedy=f"do not ship for {s.segment_value} on this alone: check its event logging and "
               "confirm in a follow-up experiment targeted at that segment")


@dataclass(frozen=True)
class Stratum:
    """One stratum's per-arm units, sums and sums of squares of one value."""

    n: dict[str, float]
    s: dict[str, float]
    ss: dict[str, float]


@dataclass(frozen=True)
class Standardized:
    """A difference of means pooled over strata with weights fixed by the strata's sizes."""

    diff: float
    se: float
    base: float

    @property
    def z(self) -> float:
        """The difference over its standard error."""
        return self.diff / self.se if self.se > 0 else math.nan

    @property
    def rel(self) -> float:
        """The difference relative to the standardized control mean."""
        return self.diff / self.base if self.base else math.nan


def standardized(strata: Sequence[Stratum], control: str, treatment: str) -> Standardized:
    """Stratum differences pooled with weights ``n_stratum / n`` (direct standardization).

    Strata where an arm has fewer than two units are left out. With arms mixed alike across
    strata this equals the pooled difference; when the mix differs it removes the mix's bias.

    References:
        Rothman, Greenland, Lash, "Modern Epidemiology" (3rd ed., 2008), ch. 4: standardization.
    """
    rows = []
    for st in strata:
        nc, nt = st.n.get(control, 0.0), st.n.get(treatment, 0.0)
        if nc < 2 or nt < 2:
            continue
        mc, mt = st.s.get(control, 0.0) / nc, st.s.get(treatment, 0.0) / nt
        vc = max(st.ss.get(control, 0.0) - nc * mc * mc, 0.0) / (nc - 1)
        vt = max(st.ss.get(treatment, 0.0) - nt * mt * mt, 0.0) / (nt - 1)
        rows.append((nc + nt, mt - mc, vc / nc + vt / nt, mc))
    if not rows:
        return Standardized(math.nan, math.nan, math.nan)
    w = np.array([r[0] for r in rows])
    w = w / w.sum()
    diff = float(np.dot(w, [r[1] for r in rows]))
    se = float(np.sqrt(np.dot(w * w, [r[2] for r in rows])))
    return Standardized(diff, se, float(np.dot(w, [r[3] for r in rows])))


def pooled(strata: Sequence[Stratum], control: str, treatment: str) -> Standardized:
    """The plain difference of means over all strata together."""
    total = Stratum(
        {a: sum(st.n.get(a, 0.0) for st in strata) for a in (control, treatment)},
        {a: sum(st.s.get(a, 0.0) for st in strata) for a in (control, treatment)},
        {a: sum(st.ss.get(a, 0.0) for st in strata) for a in (control, treatment)},
    )
    return standardized([total], control, treatment)


@dataclass(frozen=True)
class Daily:
    """One metric by exposure day (cohort) and by day since exposure.

    Attributes:
        metric: The metric's name.
        cohorts: Day of first exposure -> per-arm units, sums of the window value and squares.
        trends: The same for the per-unit trend contrast ``z`` (its difference in means between
            arms is the least-squares slope of the daily effect on the day since exposure; see
            :func:`assay.checks.queries.activity_columns`).
        by_day: Day of first exposure -> one stratum per day since exposure (0, 1, ...).
        days: Days in the window.
    """

    metric: str
    cohorts: dict[str, Stratum]
    trends: dict[str, Stratum]
    by_day: dict[str, list[Stratum]]
    days: int

    @property
    def half_days(self) -> int:
        """Days in each half of the window the message compares."""
        return self.days // 2

    @classmethod
    def from_rows(cls, metric: str, rows: Sequence[Mapping[str, Any]], prefix: str,
                  days: int) -> Daily:
        """Read one measure's columns (``<prefix>_s`` ...) of the ``activity`` and ``since:<k>``
        rows of :func:`assay.checks.queries.checks_query` (with ``cohort``: the exposure day,
        ``n``: the units of an ``activity`` row)."""
        def num(value: Any) -> float:
            return 0.0 if value is None else float(value)

        cohorts: dict[str, Stratum] = {}
        trends: dict[str, Stratum] = {}
        by_day: dict[str, list[Stratum]] = {}
        since = []
        for row in rows:
            v, key = str(row["variant"]), str(row["cohort"])
            if str(row["dimension"]).startswith(SINCE_PREFIX):
                since.append(row)
                continue
            strata = by_day.setdefault(key, [Stratum({}, {}, {}) for _ in range(days)])
            for target in (cohorts.setdefault(key, Stratum({}, {}, {})),
                           trends.setdefault(key, Stratum({}, {}, {})), *strata):
                target.n[v] = num(row["n"])
            for target, part in ((cohorts[key], ""), (trends[key], "z")):
                target.s[v] = num(row[f"{prefix}_{part}s"])
                target.ss[v] = num(row[f"{prefix}_{part}ss"])
        for row in since:
            k = int(str(row["dimension"]).removeprefix(SINCE_PREFIX))
            key, v = str(row["cohort"]), str(row["variant"])
            if k < days and key in by_day:
                by_day[key][k].s[v] = num(row[f"{prefix}_s"])
                by_day[key][k].ss[v] = num(row[f"{prefix}_ss"])
        return cls(metric, dict(sorted(cohorts.items())), dict(sorted(trends.items())),
                   dict(sorted(by_day.items())), days)


@dataclass(frozen=True)
class Trend:
    """The effect by day since exposure and the test of its linear trend.

    Attributes:
        effects: Per day since exposure, the difference of means (standardized over exposure
            days), its standard error and the control mean it is relative to.
        slope: Least-squares slope of the daily effect on the day (metric units per day) and
            its standard error, from the per-unit contrast (exact under within-unit
            correlation).
    """

    effects: list[Standardized]
    slope: Standardized

    @property
    def p_value(self) -> float:
        """Two-sided normal p-value of ``slope = 0``."""
        z = self.slope.z
        return float(2 * stats.norm.sf(abs(z))) if z == z else math.nan

    @property
    def rel_slope(self) -> float:
        """The slope relative to the mean daily control value (share of a day's mean per day)."""
        base = float(np.mean([e.base for e in self.effects])) if self.effects else math.nan
        return self.slope.diff / base if base else math.nan


def daily_trend(daily: Daily, control: str, treatment: str) -> Trend:
    """The daily effects of ``treatment`` and the test that they trend with time since exposure.

    The slope is ``sum_k w_k effect_k`` with least-squares weights ``w_k = (k - mean k) / sum
    (k - mean k)^2``: per unit, ``z = sum_k w_k y_k``, and the slope is the arms' difference in
    mean ``z`` (standardized over exposure days, so a mix shift across days does not pass for a
    trend). Its variance is that of ``z`` in each arm, so a unit's correlated days are
    accounted for; treating the days as independent would overstate it (a heavy user is heavy on
    every day, which cancels in the slope). Equal to the slope of an ordinary (or equally
    weighted) least-squares fit of the daily effects on the day index.

    References:
        Borenstein et al., "Introduction to Meta-Analysis" (2009), ch. 20 (meta-regression);
        Liang, Zeger, "Longitudinal data analysis using generalized linear models", Biometrika
        73 (1986): variances from each unit's own contrast.
    """
    effects = [standardized([strata[k] for strata in daily.by_day.values()], control, treatment)
               for k in range(daily.days)]
    return Trend(effects, standardized(list(daily.trends.values()), control, treatment))


def simpsons_paradox(
    results: Sequence[MetricResult],
    segments: Sequence[MetricResult],
    daily: Sequence[Daily],
    experiment: ExperimentSpec,
) -> Check:
    """Pooled effect and mix-adjusted effect (by exposure day, or by segment) of opposite sign,
    both with evidence (pitfall 10)."""
    name = "simpsons_paradox"
    control = experiment.control.name
    found = []
    for d in daily:
        for t in experiment.treatments:
            strata = list(d.cohorts.values())
            whole, adjusted = pooled(strata, control, t.name), standardized(strata, control, t.name)
            if _opposite(whole, adjusted):
                found.append(("exposure day", d.metric, t.name, whole, adjusted,
                              _mix_shift(strata, control, t.name)))
    for r in results:
        for dim in experiment.segments:
            cells = [s for s in segments if s.segment == dim and s.metric == r.metric
                     and s.variant == r.variant and s.error is None]
            adjusted = _from_segments(cells)
            whole = Standardized(r.diff, r.diff_se, r.mean_control)
            if cells and _opposite(whole, adjusted):
                found.append((dim, r.metric, r.variant, whole, adjusted, math.nan))
    figures = {"found": [{"by": by, "metric": m, "variant": v, "pooled_rel": w.rel,
                          "adjusted_rel": a.rel, "mix_shift": shift}
                         for by, m, v, w, a, shift in found]}
    if not found:
        return Check(name, "pass", "pooled effects agree in sign with the effects within "
                     "exposure days and segments", figures)
    by, metric, variant, whole, adjusted, shift = found[0]
    mix = (f"; the arms drew their users from different days ({shift:.0%} of {control}'s "
           f"users would have to move to match {variant}'s mix)" if shift == shift else "")
    return Check(
        name, "fail",
        f"{metric} in {variant} looks {whole.rel:+.1%} overall but {adjusted.rel:+.1%} when "
        f"users are compared within the same {by}{mix}: the arms mix {by}s differently, which "
        "reverses the pooled result (Simpson's paradox)",
        figures, code="simpson_" + ("phase" if by == "exposure day" else "segment"),
        remedy=f"trust the within-{by} comparison, not the pooled one, and fix the cause of the "
               "mix shift (a ramp change, an SRM) before deciding")


def _opposite(a: Standardized, b: Standardized) -> bool:
    return (abs(a.z) >= SIMPSON_Z and abs(b.z) >= SIMPSON_Z
            and math.copysign(1, a.diff) != math.copysign(1, b.diff))


def _from_segments(cells: Sequence[MetricResult]) -> Standardized:
    n = np.array([c.n_control + c.n_treatment for c in cells], dtype=float)
    if not cells or n.sum() == 0:
        return Standardized(math.nan, math.nan, math.nan)
    w = n / n.sum()
    return Standardized(float(np.dot(w, [c.diff for c in cells])),
                        float(np.sqrt(np.dot(w * w, [c.diff_se**2 for c in cells]))),
                        float(np.dot(w, [c.mean_control for c in cells])))


def _mix_shift(strata: Sequence[Stratum], control: str, treatment: str) -> float:
    """Total variation distance between the arms' distributions over strata."""
    nc = np.array([st.n.get(control, 0.0) for st in strata])
    nt = np.array([st.n.get(treatment, 0.0) for st in strata])
    if nc.sum() == 0 or nt.sum() == 0:
        return math.nan
    return float(0.5 * np.abs(nc / nc.sum() - nt / nt.sum()).sum())


def novelty(daily: Sequence[Daily], experiment: ExperimentSpec) -> Check:
    """The effect by day since first exposure and a test for its trend (:func:`daily_trend`).

    The message compares the effect in users' first half-window with the second (standardized
    over exposure days) to say whether it fades (novelty) or grows (primacy).
    """
    name = "novelty"
    control = experiment.control.name
    found, figures = [], {}
    for d in daily:
        if d.days < 2:
            continue
        for t in experiment.treatments:
            trend = daily_trend(d, control, t.name)
            p = trend.p_value
            early, late = _half_lifts(d, control, t.name)
            figures[f"{d.metric}:{t.name}"] = {
                "p_value": p, "slope": trend.slope.diff, "slope_se": trend.slope.se,
                "rel_slope": trend.rel_slope, "early_rel_lift": early, "late_rel_lift": late,
                "days": [d.half_days, d.days],
                "daily_effect": [e.diff for e in trend.effects],
                "daily_effect_se": [e.se for e in trend.effects],
                "daily_rel_lift": [e.rel for e in trend.effects]}
            if p < NOVELTY_P:
                found.append((d, t.name, p, early, late, trend))
    if not found:
        return Check(name, "pass", "the effects hold steady with time since exposure", figures)
    d, variant, p, early, late, trend = min(found, key=lambda f: f[2])
    fades = abs(early) > abs(late)
    h = d.half_days
    return Check(
        name, "warn",
        f"the effect on {d.metric} in {variant} {'fades' if fades else 'grows'} with time since "
        f"exposure: {early:+.1%} in users' first {h} days, {late:+.1%} in the next {h} "
        f"(trend {trend.rel_slope:+.1%} of a day's mean per day over {d.days} days, "
        f"{p_is(p)}): a {'novelty' if fades else 'primacy'} effect, so the long-run effect is "
        "likely nearer the later figure",
        figures, code="novelty_effect" if fades else "primacy_effect",
        remedy="judge the change on users' later days (run longer, or analyse the second half of "
               "the window) before shipping")


def _half_lifts(d: Daily, control: str, treatment: str) -> tuple[float, float]:
    """Relative lifts in the window's first and second half, standardized over exposure days."""
    h = d.half_days
    out = []
    for days in (range(0, h), range(h, 2 * h)):
        strata = []
        for by_day in d.by_day.values():
            arms = by_day[0].n
            strata.append(Stratum(dict(arms), {a: sum(by_day[k].s.get(a, 0.0) for k in days)
                                               for a in arms}, {a: 0.0 for a in arms}))
        out.append(standardized(strata, control, treatment).rel)
    return out[0], out[1]


@dataclass(frozen=True)
class Activity:
    """Per arm: analysed units, those with any event after exposure, and before it."""

    units: dict[str, int]
    active: dict[str, int]
    active_pre: dict[str, int]
    days: int

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]], days: int) -> Activity:
        """Read the ``activity`` rows of :func:`assay.checks.queries.checks_query` (``n`` per arm
        and exposure day), summed over the days."""
        units: dict[str, int] = {}
        active: dict[str, int] = {}
        before: dict[str, int] = {}
        for r in rows:
            v = str(r["variant"])
            units[v] = units.get(v, 0) + int(r["n"] or 0)
            active[v] = active.get(v, 0) + int(r["active"] or 0)
            before[v] = before.get(v, 0) + int(r["active_pre"] or 0)
        return cls(dict(sorted(units.items())), active, before, days)


def dilution(activity: Activity, experiment: ExperimentSpec) -> Check:
    """Exposed units that never did anything the metrics count (pitfall 1)."""
    name = "diluted_exposure"
    total = sum(activity.units.values())
    if not total:
        return Check(name, "pass", "no exposed users to look at", {})
    inactive = 1 - sum(activity.active.values()) / total
    before = 1 - sum(activity.active_pre.values()) / total
    by_arm = {v: 1 - activity.active.get(v, 0) / n for v, n in activity.units.items() if n}
    figures = {"inactive_share": inactive, "inactive_share_before": before,
               "inactive_share_by_arm": by_arm, "days": activity.days}
    arms = ", ".join(f"{v} {s:.0%}" for v, s in by_arm.items())
    if inactive < DILUTION_SHARE:
        return Check(name, "pass", f"{1 - inactive:.0%} of exposed users were active in the "
                     f"{activity.days} days after exposure", figures)
    return Check(
        name, "warn",
        f"{inactive:.0%} of exposed users did nothing any metric counts in the {activity.days} "
        f"days after exposure ({arms}; {before:.0%} were as inactive in the {activity.days} days "
        "before): the exposure seems to be logged for users who never reach the change (at page "
        "load, say), which dilutes the effect",
        figures, code="diluted_exposure",
        remedy="log the exposure where the variant first makes a difference (when the change is "
               "shown), or analyse only users who reached it, with the same trigger in both arms")


@dataclass(frozen=True)
class Overlap:
    """Units shared with one other experiment, by this arm and the other's logged arm."""

    other: str
    same_salt: bool
    table: dict[tuple[str, str], int]


def salt_reuse(overlaps: Sequence[Overlap], alpha: float = 1e-3) -> Check:
    """Assignment tied to that of experiments running at the same time (pitfall 2).

    A shared salt ties them by construction; otherwise a chi-square test of independence of the
    two arms over the shared units (Bonferroni over the overlapping experiments) catches
    correlated assignment from any cause.
    """
    name = "salt_reuse"
    tested = []
    for o in overlaps:
        rows = sorted({a for a, _ in o.table})
        cols = sorted({b for _, b in o.table})
        table = np.array([[o.table.get((a, b), 0) for b in cols] for a in rows], dtype=float)
        p = (float(stats.chi2_contingency(table, correction=False)[1])
             if table.shape[0] >= 2 and table.shape[1] >= 2 and table.sum() >= 20 else 1.0)
        agree = _agreement(o.table)
        tested.append((o, p, agree, int(table.sum())))
    m = max(len(tested), 1)
    figures = {"overlapping": [{"experiment": o.other, "same_salt": o.same_salt, "p_value": p,
                                "shared_units": n} for o, p, _, n in tested]}
    tied = [(o, p, a, n) for o, p, a, n in tested if o.same_salt or p < alpha / m]
    if not tied:
        return Check(name, "pass", f"assignment is independent of the {len(tested)} experiments "
                     "running at the same time", figures)
    o, p, agree, n = min(tied, key=lambda t: (not t[0].same_salt, t[1]))
    cause = "uses the same salt as" if o.same_salt else "has arms tied to those of"
    return Check(
        name, "fail",
        f"this experiment {cause} {o.other}, which ran at the same time: of the {n:,} users in "
        f"both, {agree:.0%} got the same-named arm ({p_is(p)}), so each experiment's effect "
        "leaks into the other's comparison",
        figures, code="salt_reuse" if o.same_salt else "correlated_assignment",
        remedy="give every experiment its own salt (the default, its id: remove `salt:`) and "
               "re-run it; results from the overlapping days are confounded")


def _agreement(table: Mapping[tuple[str, str], int]) -> float:
    total = sum(table.values())
    return sum(n for (a, b), n in table.items() if a == b) / total if total else math.nan


def reproducibility(fingerprint: Mapping[str, Any], figures: Sequence[MetricResult],
                    previous: Sequence[Sequence[Mapping[str, Any]]]) -> Check:
    """Same inputs as an earlier stored analysis must give the same figures (pitfall 6).

    ``previous``: the ``results`` lists (JSON form) of stored analyses with this fingerprint.
    Figures are compared to rounding: a difference and its standard error to 1e-9 of the means'
    magnitude (parallel sums of doubles differ in the last bits), p-values to 1e-9. The verdict
    does not say how many analyses it compared with, so a rerun stores the same record.
    """
    del fingerprint  # it is on the result; the verdict only says whether the figures agree
    name = "reproducibility"
    now = [_figures(r.metric, r.variant, r.mean_control, r.mean_treatment, r.diff, r.diff_se,
                    r.p_value) for r in figures]
    for earlier in previous:
        then = [_figures(r["metric"], r["variant"], r["mean_control"], r["mean_treatment"],
                         r["diff"], r["diff_se"], r["p_value"]) for r in earlier]
        if not _same(now, then):
            return Check(
                name, "fail",
                "an earlier analysis of exactly these inputs (same spec, SQL and data) gave "
                "different figures: something in the pipeline is not deterministic",
                {}, code="not_reproducible",
                remedy="look for unordered window functions, sampling without a seed or "
                       "source data that changed behind an unchanged watermark")
    return Check(name, "pass", "inputs fingerprinted (spec, SQL, data watermarks, row counts); "
                 "figures match any earlier analysis of the same inputs", {})


def _figures(metric: str, variant: str, *values: Any) -> tuple[Any, ...]:
    return (metric, variant, *(math.nan if v is None else float(v) for v in values))


def _same(a: Sequence[tuple[Any, ...]], b: Sequence[tuple[Any, ...]]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x[:2] != y[:2]:
            return False
        scale = REPRODUCIBLE_RTOL * max(1.0, *(abs(v) for v in (*x[2:4], *y[2:4]) if v == v))
        for i, (u, v) in enumerate(zip(x[2:], y[2:], strict=True)):
            if (u != u) or (v != v):
                if (u != u) != (v != v):
                    return False
                continue
            tolerance = scale if i < 4 else REPRODUCIBLE_RTOL
            if abs(u - v) > tolerance:
                return False
    return True
