"""Power from the archive: the effects past experiments observed on a metric, read from the store.

Seed 002: "use the historical distribution of past experiments' observed effects to set realistic
MDE expectations". Each experiment contributes its latest stored analysis's overall comparisons
on the metric (one per treatment); analyses whose checks failed are left out (their figures are
not evidence). Observed lifts are noisy and the significant ones overstate their true size (the
winner's curse), so beside the raw quantiles the spread of the true effects is estimated by
removing the sampling variance (a normal random-effects model centred at zero).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from assay.spec.project import Project
from assay.warehouse import Warehouse

#: The quantiles of |lift| reported.
QUANTILES = (0.25, 0.5, 0.75, 0.9)
#: Median of |N(0, 1)|: the median absolute true effect is this times their spread.
HALF_NORMAL_MEDIAN = 0.6744897501960817


@dataclass(frozen=True)
class PastEffect:
    """One past comparison of the metric."""

    experiment: str
    variant: str
    rel_lift: float
    rel_lift_se: float
    significant: bool
    baseline: float
    std: float


@dataclass(frozen=True)
class ArchiveEffects:
    """The distribution of past effects on one metric.

    Attributes:
        metric: The metric.
        effects: The comparisons used.
        skipped: Experiment id -> why it was left out.
        abs_lift_quantiles: Quantile -> |relative lift| over ``effects``.
        true_spread: Estimated standard deviation of the true relative effects (sampling noise
            removed; 0 when the observed spread is all noise).
        shrunk_median_abs_lift: Median |true effect| under that model.
        notes: Caveats for the reader (winner's curse, few experiments).
    """

    metric: str
    effects: list[PastEffect]
    skipped: dict[str, str]
    abs_lift_quantiles: dict[str, float]
    true_spread: float
    shrunk_median_abs_lift: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def summarize(metric: str, effects: Sequence[PastEffect], skipped: dict[str, str]
              ) -> ArchiveEffects:
    """Quantiles of |lift| and the random-effects spread of the true effects.

    ``tau^2 = max(0, mean(lift^2) - mean(se^2))``: with true effects ``N(0, tau^2)`` and
    independent sampling errors, an observed lift has variance ``tau^2 + se^2`` (a
    method-of-moments estimate, DerSimonian and Laird 1986, with the mean fixed at zero).

    References:
        DerSimonian, Laird, "Meta-analysis in clinical trials", Controlled Clinical Trials 7
        (1986); Kohavi, Tang, Xu (2020), ch. 17 on the winner's curse of significant results.
    """
    lifts = np.array([e.rel_lift for e in effects])
    ses = np.array([e.rel_lift_se for e in effects])
    quantiles = ({f"q{round(q * 100)}": float(np.quantile(np.abs(lifts), q)) for q in QUANTILES}
                 if lifts.size else {})
    tau2 = max(0.0, float(np.mean(lifts**2) - np.mean(ses**2))) if lifts.size else math.nan
    spread = math.sqrt(tau2) if tau2 == tau2 else math.nan
    notes = ["observed lifts include their noise, and significant ones overstate the true "
             "effect (winner's curse): plan with the shrunk median, not the lifts that made "
             "headlines"]
    if len(effects) < 10:
        notes.append(f"only {len(effects)} past comparisons: the quantiles are rough")
    return ArchiveEffects(metric, list(effects), skipped, quantiles, spread,
                          HALF_NORMAL_MEDIAN * spread if spread == spread else math.nan, notes)


def archive_effects(project: Project, metric: str, warehouse: Warehouse) -> ArchiveEffects:
    """Past overall comparisons on ``metric`` from the project's results store."""
    from assay.store.lifecycle import store_of

    store = store_of(project, warehouse, read_only=True)
    effects: list[PastEffect] = []
    skipped: dict[str, str] = {}
    # the store's experiments, and the project's (an analysis can be stored for a draft)
    ids = dict.fromkeys([*(e.experiment_id for e in store.experiments()), *project.experiments])
    for experiment_id in ids:
        latest = store.latest_analysis(experiment_id)
        if latest is None:
            continue
        rows = [r for r in store.results(latest.analysis_id)
                if r.metric == metric and r.segment is None]
        if not rows:
            continue
        if latest.check_status == "fail":
            skipped[experiment_id] = "a trust check failed"
            continue
        effects += [e for r in rows
                    if (e := _effect(experiment_id, {**r.columns, "rel_lift": r.rel_lift}))]
    return summarize(metric, effects, skipped)


def _effect(experiment: str, row: dict[str, Any]) -> PastEffect | None:
    """A past comparison from its stored columns (None when it has an error or no spread)."""
    needed = ("diff", "diff_se", "mean_control", "n_control", "n_treatment")
    if row.get("error") or any(row.get(k) is None for k in needed):
        return None
    base, se = float(row["mean_control"]), float(row["diff_se"])
    n_c, n_t = float(row["n_control"]), float(row["n_treatment"])
    if not base or not n_c or not n_t or not math.isfinite(se):
        return None
    return PastEffect(
        experiment=experiment, variant=str(row["variant"]),
        rel_lift=float(row["rel_lift"] if row.get("rel_lift") is not None
                       else float(row["diff"]) / base),
        rel_lift_se=se / abs(base),
        significant=bool(row.get("significant")), baseline=base,
        std=se / math.sqrt(1 / n_c + 1 / n_t))
