"""Checks on the metric results: peeking, implausible lifts, failed metrics, NULL values."""

from __future__ import annotations

from assay.checks.wording import p_is
from assay.results import Check, MetricResult
from assay.spec.models import ExperimentSpec
from assay.stats.codes import difference_stands

# Twyman's law: a lift this large on a business metric is far more often a bug than a win
# (Kohavi, Tang, Xu 2020, ch. 3).
IMPLAUSIBLE_LIFT = 0.25
# Pre-period imbalance is tested once per covariate; strict so it flags bias, not noise.
BALANCE_WARN_P = 0.001


def result_checks(
    results: list[MetricResult],
    experiment: ExperimentSpec,
    units: int,
    covariate_balance: list[tuple[str, float]],
) -> list[Check]:
    """Checks over the overall results of one analysis.

    ``covariate_balance`` holds ``(metric, p-value)`` of a test comparing each CUPED covariate
    (the metric before exposure) between control and each treatment.
    """
    return [
        _sample_size(experiment, units),
        _implausible(results),
        _metric_errors(results),
        _null_values(results),
        _pre_period_balance(covariate_balance),
    ]


def _sample_size(experiment: ExperimentSpec, units: int) -> Check:
    if experiment.sequential is not None:
        method = experiment.sequential.method
        return Check("sample_size", "pass", f"sequential design ({method}): significance "
                     "comes from it, so results may be read at any time", {"units": units})
    planned = experiment.planned_sample_size
    if planned is None:
        return Check(
            "sample_size",
            "pass",
            "no planned sample size in the spec; set "
            "`planned_sample_size` to guard against peeking",
            {"units": units},
        )
    figures = {"units": units, "planned": planned, "share": units / planned}
    if units < planned:
        return Check(
            "sample_size",
            "warn",
            f"analysed at {units:,} of {planned:,} planned units "
            f"({units / planned:.0%}): fixed-horizon p-values read before the planned "
            "sample size overstate significance (peeking)",
            figures,
        )
    return Check(
        "sample_size", "pass", f"planned sample size reached ({units:,} of {planned:,})", figures
    )


def _implausible(results: list[MetricResult]) -> Check:
    flagged = [
        r
        for r in results
        if r.error is None and r.significant and abs(r.rel_lift) > IMPLAUSIBLE_LIFT
    ]
    figures = {"metrics": [f"{r.metric}:{r.variant}" for r in flagged]}
    if flagged:
        listed = ", ".join(f"{r.metric} ({r.variant}: {r.rel_lift:+.0%})" for r in flagged)
        return Check(
            "implausible_lift",
            "warn",
            f"lifts above {IMPLAUSIBLE_LIFT:.0%} are usually "
            f"bugs (Twyman's law); audit the data before celebrating: {listed}",
            figures,
        )
    return Check(
        "implausible_lift", "pass", f"no significant lift above {IMPLAUSIBLE_LIFT:.0%}", figures
    )


def _metric_errors(results: list[MetricResult]) -> Check:
    """Comparisons with a data code. ``control_mean_zero`` alone leaves the difference, test
    and interval standing (:func:`assay.stats.codes.difference_stands`): only the relative
    lift is undefined there, and the message says so rather than "could not be computed"."""
    coded = [r for r in results if r.error is not None]
    figures = {"metrics": {f"{r.metric}:{r.variant}": r.error for r in coded}}
    failed = [r for r in coded if not difference_stands(r.error)]
    partial = [r for r in coded if difference_stands(r.error)]
    parts = []
    if failed:
        listed = ", ".join(f"{r.metric} ({r.variant}): {r.error}" for r in failed)
        parts.append(f"some comparisons could not be computed: {listed}")
    if partial:
        listed = ", ".join(f"{r.metric} ({r.variant})" for r in partial)
        parts.append(
            f"the relative lift is undefined where the control mean is 0: {listed} "
            "(the difference, its test and interval stand)"
        )
    if parts:
        return Check("metric_errors", "warn", "; ".join(parts), figures)
    return Check("metric_errors", "pass", "every comparison was computed", figures)


def _null_values(results: list[MetricResult]) -> Check:
    seen: dict[str, int] = {}
    for r in results:
        if r.null_values:
            seen[r.metric] = r.null_values
    if seen:
        listed = ", ".join(f"{m} ({n:,})" for m, n in seen.items())
        return Check(
            "null_values",
            "warn",
            f"events with a NULL value were ignored: {listed}",
            {"events": seen},
        )
    return Check("null_values", "pass", "no NULL metric values in the analysis windows", {})


def _pre_period_balance(balance: list[tuple[str, float]]) -> Check:
    """Arms should not differ before exposure; a difference means biased assignment."""
    tested = [(m, p) for m, p in balance if p == p]  # NaN: the covariate could not be tested
    if not tested:
        return Check("pre_period_balance", "pass", "no pre-period covariates to compare", {})
    metric, p_value = min(tested, key=lambda pair: pair[1])
    figures = {"min_p_value": p_value, "metric": metric}
    if p_value < BALANCE_WARN_P:
        return Check(
            "pre_period_balance",
            "warn",
            f"arms already differed before exposure on "
            f"{metric} ({p_is(p_value)}); suspect the assignment or a carry-over "
            "from an earlier experiment",
            figures,
            remedy="check the assignment (the SRM and hash checks) and whether an earlier "
                   "experiment on the same users changed this metric; CUPED corrects a chance "
                   "imbalance, not a biased assignment",
        )
    return Check("pre_period_balance", "pass", "arms were balanced before exposure", figures)
