"""Experiment planning: from a metric's baseline and an MDE to units per arm and days.

:func:`plan_experiment` combines :mod:`assay.stats.power` (fixed-horizon sample size), the CUPED
variance reduction, a Bonferroni split of alpha over several treatment arms, and the inflation
of a sequential design (:mod:`assay.stats.group_sequential`, mSPRT). ``assay power`` renders it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from assay.stats.group_sequential import gs_boundaries, inflation_factor
from assay.stats.moments import Moments
from assay.stats.power import (
    Alternative,
    mde_mean,
    mde_proportion,
    metric_from_history,
    msprt_inflation,
    power_mean,
    power_proportion,
    sample_size_mean,
    sample_size_proportion,
)

MetricKind = Literal["mean", "proportion", "ratio"]
Sequential = Literal["none", "obf", "pocock", "msprt"]


@dataclass(frozen=True)
class PowerPlan:
    """What an experiment needs to detect the MDE with the wanted power.

    Attributes:
        metric_kind: ``"mean"``, ``"proportion"`` or ``"ratio"``.
        baseline: Control mean / rate / ratio.
        std: Per-unit standard deviation used, after the CUPED reduction (for a proportion:
            ``sqrt(p (1 - p))`` before the reduction factor).
        mde_absolute: The effect to detect, absolute.
        mde_relative: The same, relative to the baseline.
        alpha: Overall level.
        alpha_per_comparison: Level of each treatment-vs-control test (Bonferroni over
            ``arms - 1``).
        power: Wanted power.
        arms: Arms including control (equal allocation).
        cuped_reduction: Variance reduction assumed (0: none).
        sequential: ``"none"``, ``"obf"``, ``"pocock"`` or ``"msprt"``.
        looks: Planned looks of a group sequential design (None otherwise).
        fixed_units_per_arm: Units per arm of the fixed-horizon design (not rounded).
        inflation: Sequential inflation of the maximum sample size (1 for fixed horizon).
        units_per_arm: Units per arm to plan for (rounded up).
        total_units: ``units_per_arm * arms``.
        days: ``total_units / daily_units`` rounded up, when traffic was given.
        notes: Caveats to show with the figures.
    """

    metric_kind: str
    baseline: float
    std: float
    mde_absolute: float
    mde_relative: float
    alpha: float
    alpha_per_comparison: float
    power: float
    arms: int
    cuped_reduction: float
    sequential: str
    looks: int | None
    fixed_units_per_arm: float
    inflation: float
    units_per_arm: int
    total_units: int
    days: int | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


def _absolute_mde(baseline: float, mde: float, relative: bool) -> float:
    return abs(baseline * mde) if relative else abs(mde)


def plan_experiment(
    *,
    metric_kind: MetricKind,
    baseline: float,
    mde: float,
    mde_relative: bool = True,
    std: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
    alternative: Alternative = "two-sided",
    cuped_reduction: float = 0.0,
    daily_units: float | None = None,
    sequential: Sequential = "none",
    looks: int = 10,
    tau: float | None = None,
) -> PowerPlan:
    """Units per arm (and days) to detect ``mde`` with probability ``power``.

    Args:
        metric_kind: ``"mean"`` and ``"ratio"`` need ``std`` (for a ratio: the standard deviation
            of its linearisation, see :func:`assay.stats.power.metric_from_history`);
            ``"proportion"`` uses ``baseline`` as the rate.
        baseline: Control mean, rate or ratio.
        mde: Minimum detectable effect; relative to ``baseline`` when ``mde_relative``.
        mde_relative: Whether ``mde`` is relative (0.02 = +2 %) or absolute.
        std: Per-unit standard deviation (means and ratios).
        alpha: Overall level; split over the ``arms - 1`` comparisons (Bonferroni).
        power: Wanted power per comparison.
        arms: Arms including control, equal allocation.
        alternative: Alternative of the planned test.
        cuped_reduction: Expected variance reduction ``r`` (variance times ``1 - r``).
        daily_units: Units entering the experiment per day (all arms).
        sequential: Sequential design whose inflation to apply.
        looks: Looks of a group sequential design (equally spaced).
        tau: mSPRT mixing standard deviation (default: the absolute MDE).

    Returns:
        The plan.

    Raises:
        ValueError: Inputs that cannot describe an experiment (a spec error for the CLI).
    """
    _validate(metric_kind, baseline, mde, std, alpha, power, arms, cuped_reduction)
    diff = _absolute_mde(baseline, mde, mde_relative)
    alpha_each = alpha / (arms - 1)
    factor = 1.0 - cuped_reduction
    notes: list[str] = []
    if metric_kind == "proportion":
        p_t = baseline + diff
        if p_t >= 1.0:
            raise ValueError(f"baseline rate {baseline} + MDE {diff} reaches 1")
        n_fixed = sample_size_proportion(baseline, p_t, power=power, alpha=alpha_each,
                                         alternative=alternative, variance_factor=factor)
        unit_std = math.sqrt(baseline * (1 - baseline))
    else:
        assert std is not None
        unit_std = std
        n_fixed = sample_size_mean(diff, std * math.sqrt(factor), power=power, alpha=alpha_each,
                                   alternative=alternative)
    inflation, used_looks = _inflation(sequential, looks, alpha_each, power, alternative, diff,
                                       unit_std * math.sqrt(factor), n_fixed, tau, notes)
    per_arm = math.ceil(n_fixed * inflation - 1e-9)
    total = per_arm * arms
    days = math.ceil(total / daily_units) if daily_units else None
    if arms > 2:
        notes.append(f"alpha split over {arms - 1} comparisons (Bonferroni): {alpha_each:.4g} each")
    return PowerPlan(metric_kind, baseline, unit_std * math.sqrt(factor), diff,
                     diff / abs(baseline) if baseline else math.nan, alpha, alpha_each, power,
                     arms, cuped_reduction, sequential, used_looks, n_fixed, inflation, per_arm,
                     total, days, notes)


def _inflation(sequential: Sequential, looks: int, alpha: float, power: float,
               alternative: Alternative, diff: float, std: float, n_fixed: float,
               tau: float | None, notes: list[str]) -> tuple[float, int | None]:
    if sequential == "none":
        return 1.0, None
    if sequential in ("obf", "pocock"):
        if looks < 1:
            raise ValueError("a group sequential design needs at least one look")
        sides: Alternative = "two-sided" if alternative == "two-sided" else "greater"
        bounds = gs_boundaries([(k + 1) / looks for k in range(looks)], alpha, sequential, sides)
        return inflation_factor(bounds, power), looks
    if sequential == "msprt":
        notes.append("mSPRT inflation makes the last look alone reach the power (conservative)")
        return msprt_inflation(diff, std, n_fixed, tau=tau, power=power, alpha=alpha), None
    raise ValueError(f"unknown sequential design {sequential!r}")


def _validate(kind: str, baseline: float, mde: float, std: float | None, alpha: float,
              power: float, arms: int, cuped: float) -> None:
    problems = []
    if kind not in ("mean", "proportion", "ratio"):
        problems.append(f"metric kind must be mean, proportion or ratio, got {kind!r}")
    if kind == "proportion" and not 0 < baseline < 1:
        problems.append(f"a baseline rate must lie in (0, 1), got {baseline}")
    if kind != "proportion" and not (std is not None and std > 0):
        problems.append("a mean or ratio metric needs a positive standard deviation (--std)")
    if mde == 0:
        problems.append("the MDE must not be zero")
    if not 0 < alpha < 1 or not 0 < power < 1:
        problems.append("alpha and power must lie in (0, 1)")
    if arms < 2:
        problems.append("an experiment needs at least 2 arms")
    if not 0 <= cuped < 1:
        problems.append("the CUPED reduction must lie in [0, 1)")
    if problems:
        raise ValueError("; ".join(problems))


def achieved(
    *,
    metric_kind: MetricKind,
    baseline: float,
    units_per_arm: float,
    std: float | None = None,
    mde: float | None = None,
    mde_relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    cuped_reduction: float = 0.0,
) -> dict[str, float]:
    """MDE at ``power`` and, when ``mde`` is given, the power achieved, for a fixed size.

    Returns:
        ``{"mde_absolute", "mde_relative"}`` and ``"power"`` when ``mde`` was given.
    """
    factor = 1.0 - cuped_reduction
    out: dict[str, float] = {}
    if metric_kind == "proportion":
        d = mde_proportion(baseline, units_per_arm, power=power, alpha=alpha,
                           alternative=alternative, variance_factor=factor)
    else:
        assert std is not None
        d = mde_mean(std * math.sqrt(factor), units_per_arm, power=power, alpha=alpha,
                     alternative=alternative)
    out["mde_absolute"] = d
    out["mde_relative"] = d / abs(baseline) if baseline else math.nan
    if mde is not None:
        diff = _absolute_mde(baseline, mde, mde_relative)
        alt: Alternative = "greater" if alternative == "less" else alternative
        out["power"] = (power_proportion(baseline, baseline + diff, units_per_arm, alpha=alpha,
                                         alternative=alt, variance_factor=factor)
                        if metric_kind == "proportion" else
                        power_mean(diff, std * math.sqrt(factor), units_per_arm,  # type: ignore[operator]
                                   alpha=alpha, alternative=alt))
    return out


def plan_from_history(
    history: Moments,
    *,
    metric_kind: MetricKind,
    mde: float,
    y: str = "y",
    num: str = "num",
    den: str = "den",
    x: str | None = None,
    **options: Any,
) -> PowerPlan:
    """Plan from a metric's moments over a past period (power from warehouse history).

    The baseline and the per-unit standard deviation come from
    :func:`assay.stats.power.metric_from_history`; with a pre-period covariate ``x`` (mean
    metrics) the CUPED reduction is the ``rho^2`` observed in that period unless
    ``cuped_reduction`` is passed.

    Args:
        history: Moments of the metric's variables over the past period (all units pooled).
        metric_kind: ``"mean"``, ``"proportion"`` or ``"ratio"``.
        mde: Minimum detectable effect (relative unless ``mde_relative=False`` is passed).
        y: Variable of a mean or proportion metric.
        num: Numerator of a ratio metric.
        den: Denominator of a ratio metric.
        x: Optional covariate for the CUPED reduction.
        **options: Passed to :func:`plan_experiment`.

    Returns:
        The plan.
    """
    stats = metric_from_history(history, metric_kind, y=y, num=num, den=den, x=x)
    if not (math.isfinite(stats["baseline"]) and math.isfinite(stats["std"])):
        raise ValueError("the history cannot give a baseline and a standard deviation")
    if "cuped_reduction" not in options and math.isfinite(stats.get("cuped_reduction", math.nan)):
        options["cuped_reduction"] = min(stats["cuped_reduction"], 0.99)
    std = None if metric_kind == "proportion" else stats["std"]
    return plan_experiment(metric_kind=metric_kind, baseline=stats["baseline"], mde=mde,
                           std=std, **options)
