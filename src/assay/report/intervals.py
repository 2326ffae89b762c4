"""Which interval a report draws beside the verdict, and the words that name it.

With a multiple-comparison correction the verdict (``significant``) reads the adjusted p-value,
so reports show the adjusted intervals (``diff_ci_adjusted``/``rel_lift_ci_adjusted``) beside
it; the unadjusted ones stay in the JSON output. Without a correction the two are the same.
"""

from __future__ import annotations

import math

from assay.results import AnalysisResult, MetricResult

Bounds = tuple[float, float]
_MISSING: Bounds = (math.nan, math.nan)

_NOTES = {
    "bonferroni": "Bonferroni simultaneous intervals, each at level 1 − α/m (m: comparisons "
    "in the family).",
    "holm": "Bonferroni simultaneous intervals, each at level 1 − α/m (m: comparisons in the "
    "family); Holm, which decides significance, has no intervals of its own and can reject "
    "where this interval includes 0.",
    "bh": "false-coverage-rate intervals for the Benjamini-Hochberg discoveries (Benjamini & "
    "Yekutieli 2005), each at level 1 − Rα/m (R: discoveries, at least 1; m: comparisons).",
    "by": "false-coverage-rate intervals for the Benjamini-Yekutieli discoveries (Benjamini & "
    "Yekutieli 2005), each at level 1 − Rα/(m·c(m)), c(m) = 1 + 1/2 + … + 1/m.",
}

_AXES = {
    "bonferroni": "Bonferroni CI, simultaneous {level}%",
    "holm": "Bonferroni CI, simultaneous {level}% (verdict: Holm)",
    "bh": "FCR-adjusted CI (BH), FCR ≤ {risk}%",
    "by": "FCR-adjusted CI (BY), FCR ≤ {risk}%",
}


def is_adjusted(result: AnalysisResult) -> bool:
    """Whether the analysis corrects for multiplicity (its intervals then differ)."""
    return result.correction != "none"


def ci_header(result: AnalysisResult) -> str:
    """``CI`` or ``adj. CI``: the column label of the intervals shown."""
    return "adj. CI" if is_adjusted(result) else "CI"


def shown_intervals(r: MetricResult) -> tuple[Bounds, Bounds]:
    """The (diff, relative lift) intervals to show: the adjusted ones (NaN when missing)."""
    return r.diff_ci_adjusted or _MISSING, r.rel_lift_ci_adjusted or _MISSING


def interval_note(result: AnalysisResult) -> str | None:
    """A footnote naming the adjusted intervals' method, or None without a correction."""
    note = _NOTES.get(result.correction)
    return None if note is None else f"adj. CI: {note}"


def axis_label(result: AnalysisResult) -> str:
    """What the forest plot's intervals are, for its axis and alt text."""
    level = f"{100 * (1 - result.alpha):.0f}"
    risk = f"{100 * result.alpha:g}"
    return _AXES.get(result.correction, "{level}% CI").format(level=level, risk=risk)


def covers_zero(bounds: Bounds | None) -> bool:
    """Whether an interval includes 0 (a missing interval does not)."""
    return bounds is not None and bounds[0] <= 0.0 <= bounds[1]


def verdict_beyond_interval(results: list[MetricResult]) -> list[MetricResult]:
    """Significant results whose adjusted difference or relative-lift interval includes 0.

    Holm produces these (it rejects more than the Bonferroni intervals it reports). At the
    margin so can a two-proportion test (pooled variance in the p-value, not in the Wald
    interval) and any relative lift (its delta-method interval is not the test's dual).
    """
    return [
        r
        for r in results
        if r.significant
        and (covers_zero(r.diff_ci_adjusted) or covers_zero(r.rel_lift_ci_adjusted))
    ]
