"""The recommendation a report leads with, derived by a written rule from the result."""

from __future__ import annotations

from dataclasses import dataclass

from assay.results.model import AnalysisResult, MetricResult


@dataclass(frozen=True)
class Decision:
    """A recommendation and the reasons for it.

    ``verdict`` is one of ``ship``, ``do not ship``, ``inconclusive``, ``untrustworthy`` and
    ``deviates from the pre-registered plan``.
    """

    verdict: str
    reasons: list[str]


# The check that compares an analysis with the plan frozen at start (assay.checks.plan).
PLAN_CHECK = "plan_changed"
DEVIATES = "deviates from the pre-registered plan"


def is_win(r: MetricResult) -> bool:
    """Significant and in the metric's good direction."""
    return r.significant and (r.diff > 0) == r.higher_is_better


def is_loss(r: MetricResult) -> bool:
    """Significant and in the metric's bad direction."""
    return r.significant and (r.diff > 0) != r.higher_is_better


def decide(result: AnalysisResult) -> Decision:
    """The rule: plan deviations, then failed checks; then harm on guardrails or primaries; wins.

    0. A failed ``plan_changed`` check (significance-deciding choices differ from the plan
       frozen at ``assay start``): the result deviates from the pre-registered plan.
    1. A failed check (SRM, empty arm, no exposures ...) makes the result untrustworthy.
    2. A significant loss on a primary metric or a guardrail: do not ship.
    3. A significant win on a primary metric (every treatment compared): ship that variant.
    4. Otherwise inconclusive.
    """
    failed = [c for c in result.checks if c.status == "fail"]
    if any(c.name == PLAN_CHECK for c in failed):
        return Decision(DEVIATES, [f"{c.name}: {c.message}" for c in failed])
    if failed:
        return Decision("untrustworthy", [f"{c.name}: {c.message}" for c in failed])
    losses = [r for r in result.results if r.role in ("primary", "guardrail") and is_loss(r)]
    if losses:
        return Decision(
            "do not ship",
            [f"{r.metric} ({r.role}) got worse in {r.variant}: {r.rel_lift:+.2%}" for r in losses],
        )
    wins = [r for r in result.results if r.role == "primary" and is_win(r)]
    if wins:
        return Decision(
            "ship",
            [
                f"{r.metric} improved in {r.variant}: {r.rel_lift:+.2%} "
                f"(adjusted p = {r.p_value_adjusted:.3g})"
                for r in wins
            ],
        )
    primaries = [r.metric for r in result.results if r.role == "primary"]
    reason = (
        "no primary metric moved significantly"
        if primaries
        else "the experiment names no primary metric"
    )
    return Decision("inconclusive", [reason])
