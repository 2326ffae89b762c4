"""From per-arm sufficient statistics to metric results (pure: no SQL, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from assay.analysis.figures import arm_figures
from assay.analysis.readouts import Design, with_readouts
from assay.metrics.plan import AnalysisPlan, MetricPlan, QuantilePlan
from assay.results import MetricResult
from assay.spec.models import ExperimentSpec
from assay.stats.adjust import (
    PoststratResult,
    RegressionResult,
    poststratified_estimates,
    regression_estimates,
)
from assay.stats.codes import difference_stands
from assay.stats.estimates import (
    ArmEstimate,
    cuped_estimates,
    cuped_ratio_estimates,
    mean_estimate,
    ratio_estimate,
)
from assay.stats.exact import small_sample_test
from assay.stats.moments import Moments
from assay.stats.multiple import AdjustMethod, adjust_effects, significant
from assay.stats.quantiles import (
    CLUSTER_VARIABLES,
    QuantileArm,
    compare_quantiles,
    quantile_estimate,
)
from assay.stats.tests import (
    Effect,
    LiftInterval,
    compare,
    proportion_test,
    with_lift_interval,
)

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Cell:
    """The rows of one slice of the data: overall, or one value of one segment dimension."""

    segment: str | None
    segment_value: str | None
    rows: dict[str, Row]  # variant -> row of sufficient statistics


def split_rows(rows: Sequence[Row], segments: list[str]) -> list[Cell]:
    """Group the metrics query's rows into the overall cell and one cell per segment value.

    Cells come in a defined order, not the engine's: the overall cell, then each segment column
    in the spec's order, its values sorted as text (a missing value last). Engines sort the
    grouping sets' NULLs differently (Spark puts them first), so row order would differ.
    """
    cells: dict[tuple[str | None, str | None], dict[str, Row]] = {}
    for row in rows:
        flags = [row[f"g__{s}"] for s in segments]
        if all(flags):
            key: tuple[str | None, str | None] = (None, None)
        else:
            dim = segments[flags.index(0)]
            value = row[dim]
            key = (dim, None if value is None else str(value))
        cells.setdefault(key, {})[str(row["variant"])] = row

    def order(key: tuple[str | None, str | None]) -> tuple[int, bool, str]:
        dim, value = key
        return (-1 if dim is None else segments.index(dim), value is None, value or "")

    return [Cell(seg, val, cells[(seg, val)]) for seg, val in sorted(cells, key=order)]


def metric_moments(
    metric: MetricPlan, rows: Mapping[str, Row], variants: list[str]
) -> dict[str, Moments]:
    """Moments of a metric's variables per variant (zero moments for a variant with no row)."""
    names = tuple(metric.variables)
    out = {}
    for variant in variants:
        row = rows.get(variant)
        if row is None:
            out[variant] = Moments.zero(names)
            continue
        own = {
            k.removeprefix(metric.prefix): v for k, v in row.items() if k.startswith(metric.prefix)
        }
        out[variant] = Moments.from_row(names, own)
    return out


@dataclass(frozen=True)
class Comparison:
    """A metric result and the effect it was read from.

    The effect carries what adjusted intervals need and the result does not keep (the
    reference distribution's df, the relative lift's standard error, the alternative).
    """

    result: MetricResult
    effect: Effect


def compare_metrics(
    plan: AnalysisPlan,
    cell: Cell,
    null_counts: Mapping[str, int],
    design: Design | None = None,
    strata: Sequence[Cell] = (),
) -> list[Comparison]:
    """Every metric x treatment comparison in one cell (p-values not yet adjusted).

    Bayesian figures are filled in when the experiment asks for them, sequential ones when a
    ``design`` is given (overall results only). ``strata``: the cells of the ``stratify_by``
    column, whose moments post-stratify the mean and proportion metrics without CUPED or
    covariates (overall results only).
    """
    experiment = plan.experiment
    variants = [v.name for v in experiment.variants]
    out = []
    control = experiment.control.name
    for metric in plan.metrics:
        arms = metric_moments(metric, cell.rows, variants)
        raw = {v: _raw(metric, arms[v]) for v in variants}
        estimates, reduction, theta = _estimates(metric, arms)
        coefficients = _coefficients(metric, arms)
        stratified = estimates is None and _stratifies(metric, strata)
        if stratified:
            post = _poststratify(metric, strata, variants)
            estimates, reduction = post.estimates, post.variance_reduction
        tested = estimates or raw  # what the test compares: CUPED-adjusted or observed
        for treatment in experiment.treatments:
            pair = (tested[control], tested[treatment.name])
            effect = _effect(metric, arms, pair, control, treatment.name, experiment.alpha,
                             experiment.lift_interval, adjusted=estimates is not None)
            if metric.metric.kind == "mean" and _shifted(arms) and not stratified:
                effect = _exact_difference(metric, arms, effect, control, treatment.name,
                                           experiment)
            result = _result(
                metric,
                experiment,
                treatment.name,
                arms,
                (raw[control], raw[treatment.name]),
                effect,
                reduction,
                cell,
                null_counts.get(metric.metric.name, 0),
            )
            if stratified:
                k = len(post.weights)
                method = f"{result.method} + post-stratified on {experiment.stratify_by} ({k})"
                result = replace(result, method=method)
            result = replace(
                result,
                statistic=effect.statistic,
                df=_finite_df(effect.df),
                cuped_theta=theta,
                covariate_coefficients=coefficients,
                arm_figures={
                    control: arm_figures(metric, arms[control], pair[0]),
                    treatment.name: arm_figures(metric, arms[treatment.name], pair[1]),
                },
            )
            out.append(Comparison(with_readouts(result, effect, pair, experiment, design), effect))
    return out


def _shifted(arms: Mapping[str, Moments]) -> bool:
    return any(bool(np.any(m.shift != 0)) for m in arms.values())


def _exact_difference(
    metric: MetricPlan,
    arms: dict[str, Moments],
    effect: Effect,
    control: str,
    treatment: str,
    experiment: ExperimentSpec,
) -> Effect:
    """``effect`` with its difference, test and interval computed on the centred values.

    Means of about 1e9 are doubles with an absolute resolution of about 1e-7, which their
    difference would inherit; the moments are centred on one constant (``Moments.shift``),
    and the difference of two means is the difference of their centred means (every arm is
    re-centred on one constant first). Points, relative lift and readouts keep the true means.
    """
    reference = next((m.shift for m in arms.values() if m.n > 0), None)
    if reference is None:
        return effect
    centred = {}
    for name, m in arms.items():
        aligned = m.recentred(reference)
        centred[name] = Moments(m.names, m.n, aligned.sums, aligned.cross)
    estimates, _, _ = _estimates(metric, centred)
    tested = estimates or {v: _raw(metric, m) for v, m in centred.items()}
    exact = _effect(metric, centred, (tested[control], tested[treatment]), control, treatment,
                    experiment.alpha, experiment.lift_interval)
    return replace(effect, diff=exact.diff, diff_se=exact.diff_se, diff_ci=exact.diff_ci,
                   statistic=exact.statistic, df=exact.df, p_value=exact.p_value)


def covariate_balance(plan: AnalysisPlan, cell: Cell) -> list[tuple[str, float]]:
    """(metric, p-value) comparing each pre-period covariate between control and treatments;
    then (covariate label, p-value) for each ``covariates:`` entry, once per label."""
    experiment = plan.experiment
    variants = [v.name for v in experiment.variants]
    out = []
    seen: set[str] = set()
    for metric in plan.metrics:
        arms = metric_moments(metric, cell.rows, variants)
        for var, label in metric.covariates.items():
            if label in seen:
                continue
            seen.add(label)
            control = mean_estimate(arms[experiment.control.name], var)
            out += [(label, compare(control, mean_estimate(arms[t.name], var)).p_value)
                    for t in experiment.treatments]
        if not metric.cuped:
            continue
        control = _raw(metric, arms[experiment.control.name], pre=True)
        for treatment in experiment.treatments:
            effect = compare(
                control,
                _raw(metric, arms[treatment.name], pre=True),
                test="z" if metric.metric.kind == "ratio" else "welch",
            )
            out.append((metric.metric.name, effect.p_value))
    return out


def adjust(comparisons: Sequence[Comparison], method: str, alpha: float) -> list[MetricResult]:
    """Adjust ``comparisons`` as one family: p-values, significance and intervals.

    The family is the comparisons with a p-value (cells that could not be computed have none
    and do not count). ``significant`` is :func:`assay.stats.multiple.significant`
    (``p_value_adjusted <= alpha``) for a comparison whose difference stands (no error, or only
    ``control_mean_zero``: the relative lift alone is undefined).
    ``diff_ci_adjusted``/``rel_lift_ci_adjusted`` are the intervals of
    :func:`assay.stats.multiple.adjust_effects` for ``method`` at family level ``alpha``
    (with ``none``: the unadjusted intervals); None where the difference (or, for the relative
    one, the relative lift) could not be computed.
    """
    correction: AdjustMethod = method  # type: ignore[assignment]
    adjusted = adjust_effects([c.effect for c in comparisons], correction, alpha)
    out = []
    for c, a in zip(comparisons, adjusted, strict=True):
        r, p_adj = c.result, a.p_value_adjusted
        stands = difference_stands(r.error)
        out.append(
            replace(
                r,
                p_value_adjusted=p_adj,
                significant=stands and significant(p_adj, alpha),
                diff_ci_adjusted=a.diff_ci if stands else None,
                rel_lift_ci_adjusted=a.rel_lift_ci if r.error is None else None,
            )
        )
    return out


def _estimates(
    metric: MetricPlan, arms: dict[str, Moments]
) -> tuple[dict[str, ArmEstimate] | None, float | None, float | None]:
    """Adjusted estimates per arm when CUPED or a regression adjustment applies (else None),
    the variance reduction and CUPED's theta (None for a regression adjustment)."""
    if metric.covariates:
        regression = _regression(metric, arms)
        return regression.estimates, regression.variance_reduction, None
    if not metric.cuped:
        return None, None, None
    adjust_arms = cuped_ratio_estimates if metric.metric.kind == "ratio" else cuped_estimates
    result = adjust_arms(arms)
    return result.estimates, result.variance_reduction, result.theta


def _regression(metric: MetricPlan, arms: dict[str, Moments]) -> RegressionResult:
    """The regression adjustment on the metric's covariates (and CUPED's ``x`` when on), with
    the within-arm slopes of OLS ``y ~ arm + covariates``."""
    names = (("x",) if metric.cuped else ()) + tuple(metric.covariates)
    return regression_estimates(arms, "y", names, pooling="within")


def _coefficients(metric: MetricPlan, arms: dict[str, Moments]) -> dict[str, float]:
    """Covariate label -> its regression coefficient (empty without ``covariates:``)."""
    if not metric.covariates:
        return {}
    labels = {"x": f"{metric.metric.name} (pre)", **metric.covariates}
    coefficients = _regression(metric, arms).coefficients
    return {labels[var]: float(beta) for var, beta in coefficients.items()}


def _stratifies(metric: MetricPlan, strata: Sequence[Cell]) -> bool:
    """Post-stratify ``metric``: a mean or proportion metric without CUPED or covariates
    (those are regression-adjusted; give the stratum as a categorical covariate to adjust on
    both), when the experiment has ``stratify_by``."""
    return bool(strata) and metric.metric.kind in ("mean", "proportion") and not (
        metric.cuped or metric.covariates)


def _poststratify(metric: MetricPlan, strata: Sequence[Cell], variants: list[str]
                  ) -> PoststratResult:
    """Post-stratified estimates per arm from the arm x stratum moments (weights: the pooled
    stratum shares)."""
    per_arm: dict[str, dict[str, Moments]] = {v: {} for v in variants}
    for cell in strata:
        for variant, moments in metric_moments(metric, cell.rows, variants).items():
            if moments.n > 0:
                per_arm[variant][str(cell.segment_value)] = moments.select(("y",))
    return poststratified_estimates(per_arm, "y")


def _raw(metric: MetricPlan, moments: Moments, *, pre: bool = False) -> ArmEstimate:
    if metric.metric.kind == "ratio":
        return ratio_estimate(moments, "num_pre", "den_pre") if pre else ratio_estimate(moments)
    return mean_estimate(moments, "x" if pre else "y")


def _effect(
    metric: MetricPlan,
    arms: dict[str, Moments],
    pair: tuple[ArmEstimate, ArmEstimate],
    control: str,
    treatment: str,
    alpha: float,
    lift_interval: LiftInterval = "delta",
    *,
    adjusted: bool = False,
) -> Effect:
    kind = metric.metric.kind
    lift = lift_interval
    if not (adjusted or metric.cuped) and kind == "proportion":
        effect = proportion_test(arms[control], arms[treatment], alpha=alpha)
        effect = small_sample_test(effect, arms[control], arms[treatment])
        return with_lift_interval(effect, lift, alpha)
    # Means of sample averages use Welch's t; ratios (delta method) and proportions the normal.
    test: Literal["welch", "z"] = "welch" if kind == "mean" else "z"
    return compare(*pair, alpha=alpha, test=test, lift_interval=lift)


def effect_fields(effect: Effect) -> dict[str, Any]:
    """The :class:`MetricResult` fields an effect fills, before any correction (the adjusted
    p-value is the raw one and nothing is significant until :func:`adjust`)."""
    return {
        "diff": effect.diff, "diff_se": effect.diff_se, "diff_ci": effect.diff_ci,
        "rel_lift": effect.rel_lift, "rel_lift_ci": effect.rel_lift_ci,
        "rel_lift_method": effect.rel_lift_method,
        "p_value": effect.p_value, "p_value_adjusted": effect.p_value, "significant": False,
        "error": None if effect.error is None else str(effect.error),
    }


def _result(
    metric: MetricPlan,
    experiment: ExperimentSpec,
    treatment: str,
    arms: dict[str, Moments],
    observed: tuple[ArmEstimate, ArmEstimate],
    effect: Effect,
    reduction: float | None,
    cell: Cell,
    nulls: int,
) -> MetricResult:
    control = experiment.control.name
    raw_c, raw_t = observed
    method = effect.method + (" + CUPED" if metric.cuped and not metric.covariates else "")
    if metric.covariates:
        k = len(metric.covariates) + metric.cuped
        method += f" + regression adjustment ({k} covariate{'s' if k > 1 else ''})"
    if metric.metric.kind == "ratio":
        method += " (delta method)"
    return MetricResult(
        metric=metric.metric.name,
        role=metric.role,
        kind=metric.metric.kind,
        variant=treatment,
        control=control,
        n_control=arms[control].n,
        n_treatment=arms[treatment].n,
        mean_control=raw_c.point,
        mean_treatment=raw_t.point,
        method=method,
        cuped_variance_reduction=reduction,
        higher_is_better=metric.metric.higher_is_better,
        segment=cell.segment,
        segment_value=cell.segment_value,
        null_values=nulls,
        **effect_fields(effect),
    )


def compare_quantile_metric(
    quantile: QuantilePlan,
    experiment: ExperimentSpec,
    rows: Sequence[Row],
    design: Design | None = None,
) -> list[Comparison]:
    """Every treatment's comparison of one quantile metric, from its order-statistics rows
    (:func:`assay.metrics.quantiles.compile_quantiles`); p-values not yet adjusted."""
    metric = quantile.metric
    nu = metric.quantile or 0.5
    clustered = metric.quantile_of == "event"
    arms = {str(row["variant"]): quantile_arm(row, clustered) for row in rows}
    empty = QuantileArm(0.0, float("nan"), float("nan"), float("nan"))
    control = experiment.control.name
    out = []
    for treatment in experiment.treatments:
        c, t = arms.get(control, empty), arms.get(treatment.name, empty)
        effect = compare_quantiles(c, t, nu, alpha=experiment.alpha,
                                   lift_interval=experiment.lift_interval)
        pair = (quantile_estimate(c, nu), quantile_estimate(t, nu))
        result = MetricResult(
            metric=metric.name,
            role=quantile.role,
            kind=metric.kind,
            variant=treatment.name,
            control=control,
            n_control=pair[0].n,
            n_treatment=pair[1].n,
            mean_control=c.quantile,
            mean_treatment=t.quantile,
            method=effect.method,
            cuped_variance_reduction=None,
            higher_is_better=metric.higher_is_better,
            **effect_fields(effect),
            statistic=effect.statistic,
            df=_finite_df(effect.df),
            arm_figures={
                control: _quantile_figures(c, pair[0]),
                treatment.name: _quantile_figures(t, pair[1]),
            },
        )
        out.append(Comparison(with_readouts(result, effect, pair, experiment, design), effect))
    return out


def quantile_arm(row: Row, clustered: bool) -> QuantileArm:
    """One arm's order statistics (and cluster moments) from its row."""

    def number(key: str) -> float:
        value = row.get(key)
        return float("nan") if value is None else float(value)

    clusters = Moments.from_row(CLUSTER_VARIABLES, row) if clustered else None
    return QuantileArm(float(row.get("n_values") or 0), number("q"), number("q_lo"),
                       number("q_hi"), clusters)


def _quantile_figures(arm: QuantileArm, estimate: ArmEstimate) -> dict[str, float]:
    """A quantile arm's order statistics and the estimate's variance."""
    figures = {"observations": arm.n, "n": estimate.n, "quantile": arm.quantile,
               "band_lower": arm.lower, "band_upper": arm.upper,
               "estimate": estimate.point, "estimate_variance": estimate.variance}
    return figures


def _finite_df(df: float) -> float | None:
    """Degrees of freedom of a t reference; None for the normal (infinite df)."""
    return df if np.isfinite(df) else None
