"""Readouts beside the fixed-horizon test: sequential designs and the Bayesian posterior.

A sequential design, when the experiment declares one, decides significance: that is what
makes reading results early safe. mSPRT and confidence sequences are evaluated at the current
look; their always-valid p-value is at least the running minimum over looks, so it stays valid
(conservatively) whenever it is read. A group sequential design compares the current statistic
with the Lan-DeMets boundary at the current information fraction, the earlier looks' fractions
read from the results store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from assay.results import MetricResult
from assay.spec.models import ExperimentSpec
from assay.stats.codes import difference_stands
from assay.stats.estimates import ArmEstimate
from assay.stats.multiple import adjust_pvalues, significant
from assay.stats.tests import Effect


@dataclass(frozen=True)
class Design:
    """The sequential design in force for this analysis.

    Attributes:
        method: ``msprt``, ``confidence_sequence``, ``obf`` or ``pocock``.
        boundary: Group sequential: the z boundary at this look (per comparison).
        fraction: Group sequential: the information fraction of this look.
        look: Group sequential: which look this is (1-based).
    """

    method: str
    boundary: float | None = None
    fraction: float | None = None
    look: int | None = None


def group_design(
    experiment: ExperimentSpec, units: int, earlier_units: list[int], comparisons: int
) -> Design | None:
    """The design of this analysis (None without a sequential spec).

    For ``obf``/``pocock`` the fractions of earlier recorded looks and this one define the
    Lan-DeMets boundary; with a multiple-comparison correction the design runs at
    ``alpha / comparisons`` (Bonferroni), which keeps the family's error rate.
    """
    spec = experiment.sequential
    if spec is None:
        return None
    if spec.method in ("msprt", "confidence_sequence"):
        return Design(spec.method)
    from assay.stats.group_sequential import gs_boundaries

    planned = float(experiment.planned_sample_size or 1)
    fraction = min(units / planned, 1.0)
    earlier = sorted({min(u / planned, 1.0) for u in earlier_units if 0 < u / planned < fraction})
    alpha = experiment.alpha / (comparisons if experiment.correction != "none" else 1)
    spending: Literal["obf", "pocock"] = "obf" if spec.method == "obf" else "pocock"
    bounds = gs_boundaries([*earlier, fraction], alpha=alpha, spending=spending)
    return Design(spec.method, float(bounds.z[-1]), fraction, len(earlier) + 1)


def with_readouts(
    result: MetricResult,
    effect: Effect,
    pair: tuple[ArmEstimate, ArmEstimate],
    experiment: ExperimentSpec,
    design: Design | None,
) -> MetricResult:
    """``result`` with its Bayesian and sequential figures filled in."""
    changes: dict[str, object] = {}
    if experiment.bayesian is not None and effect.error is None:
        from assay.stats.bayes import bayes_effect

        posterior = bayes_effect(
            effect,
            scale="relative",
            prior_mean=experiment.bayesian.prior_mean,
            prior_sd=experiment.bayesian.prior_sd,
            alpha=experiment.alpha,
        )
        changes |= {
            "prob_beat_control": posterior.prob_beat_control,
            "credible_interval": posterior.credible_interval,
            "expected_loss": posterior.expected_loss_treatment,
        }
    if design is not None and effect.error is None:
        changes |= _sequential(effect, pair, experiment, design)
    return replace(result, **changes) if changes else result  # type: ignore[arg-type]


def _sequential(
    effect: Effect,
    pair: tuple[ArmEstimate, ArmEstimate],
    experiment: ExperimentSpec,
    design: Design,
) -> dict[str, object]:
    spec = experiment.sequential
    assert spec is not None
    if design.method in ("obf", "pocock"):
        boundary = design.boundary if design.boundary is not None else math.inf
        return {
            "sequential_method": f"{design.method} (look {design.look}, "
            f"information {design.fraction:.0%})",
            "sequential_boundary": boundary,
            "sequential_crossed": bool(abs(effect.statistic) >= boundary),
        }
    from assay.stats.sequential import confidence_sequence, msprt

    if design.method == "msprt":
        tau = spec.mixing_lift * abs(pair[0].point) or spec.mixing_lift
        outcome = msprt([pair], tau=tau, alpha=experiment.alpha)
    else:
        tuning = spec.tuning_n or float(experiment.planned_sample_size or 10_000)
        outcome = confidence_sequence([pair], tuning_n=tuning, alpha=experiment.alpha)
    look = outcome.looks[-1]
    return {
        "sequential_method": outcome.method,
        "sequential_p_value": look.p_value,
        "sequential_ci": look.ci,
    }


def sequential_significance(
    results: list[MetricResult], experiment: ExperimentSpec
) -> list[MetricResult]:
    """Under a sequential design, significance is the design's verdict (corrected family)."""
    if experiment.sequential is None:
        return results
    if experiment.sequential.method in ("obf", "pocock"):
        return [
            replace(r, significant=bool(difference_stands(r.error) and r.sequential_crossed))
            for r in results
        ]
    adjusted = adjust_pvalues(
        [math.nan if r.sequential_p_value is None else r.sequential_p_value for r in results],
        experiment.correction,
    )
    return [
        replace(
            r,
            sequential_p_value_adjusted=float(p),
            significant=difference_stands(r.error) and significant(float(p), experiment.alpha),
        )
        for r, p in zip(results, adjusted, strict=True)
    ]
