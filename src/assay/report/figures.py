"""The formatted figures of one comparison, shared by the terminal, Markdown and HTML.

Every renderer shows the same strings for the same result: the means, the lift and the interval
bounds of a row share the decimals its standard error supports (see :mod:`assay.report.format`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assay.report.format import decimals_for, interval, num, p, pct
from assay.report.intervals import shown_intervals
from assay.results import MetricResult, is_loss, is_win

ROLE_MARK = {"primary": "★", "guardrail": "⛨"}


@dataclass(frozen=True)
class Figures:
    """One comparison's figures as text (an errored comparison: ``error`` set, lifts empty)."""

    control: str
    treatment: str
    diff: str
    diff_ci: str
    lift: str
    lift_ci: str
    p: str
    p_adjusted: str
    verdict: str
    cuped: str
    error: str | None


def figures(r: MetricResult) -> Figures:
    """The formatted figures of ``r`` (the intervals shown are the adjusted ones)."""
    places = decimals_for(r.diff_se)
    means = (num(r.mean_control, places), num(r.mean_treatment, places))
    cuped = "—" if r.cuped_variance_reduction is None else f"{r.cuped_variance_reduction:.0%}"
    if r.error is not None:
        return Figures(*means, "", "", "", "", "", "", "", cuped, r.error)
    diff_ci, lift_ci = shown_intervals(r)
    return Figures(
        control=means[0],
        treatment=means[1],
        diff=num(r.diff, places),
        diff_ci=interval(diff_ci, decimals=places),
        lift=pct(r.rel_lift),
        lift_ci=interval(lift_ci, as_pct=True),
        p=p(r.p_value),
        p_adjusted=p(r.p_value_adjusted),
        verdict="better" if is_win(r) else "worse" if is_loss(r) else "n.s.",
        cuped=cuped,
        error=None,
    )


def metric_label(r: MetricResult) -> str:
    """The metric's name with its role mark (★ primary, ⛨ guardrail)."""
    mark = ROLE_MARK.get(r.role)
    return f"{r.metric} {mark}" if mark else r.metric


def adjustment_notes(results: list[MetricResult],
                     escape: Callable[[str], str] = str) -> list[str]:
    """One line per regression-adjusted metric: its covariates (``escape``d: they are dict
    keys, which a renderer's escaping of values does not reach) and the variance removed, each
    metric once whatever its number of treatments."""
    out: dict[str, str] = {}
    for r in results:
        if not r.covariate_coefficients or r.metric in out:
            continue
        vr = r.cuped_variance_reduction
        removed = "" if vr is None or vr != vr else f" (variance −{vr:.0%})"
        names = ", ".join(escape(c) for c in r.covariate_coefficients)
        out[r.metric] = f"{r.metric}: adjusted on {names}{removed}"
    return list(out.values())
