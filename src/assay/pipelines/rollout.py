"""Roll a winning configuration out gradually through an assay rollout flag, with guardrails.

After the experiment, the winner is not switched on everywhere at once: a rollout flag
(``flags/*.yml``, ``rollout:``) gives it to a growing share of runs, chosen by the flag's own
hash. :func:`next_rollout` takes the current share one step up the ladder only while the
pipeline decision (:func:`~assay.pipelines.analysis.pipeline_decision`, gates included) says
``ship``; any other verdict holds the share at zero and says why. Because raising ``rollout``
only adds units, runs already on the new configuration stay on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from assay.assign.flags import CompiledRollout, FlagSpec
from assay.pipelines.analysis import pipeline_decision
from assay.results import AnalysisResult

STEPS = (0.05, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class RolloutStep:
    """The next state of a rollout flag and why.

    Attributes:
        flag: The flag spec to write to ``flags/<name>.yml``.
        share: Its ``rollout`` (0 when held back).
        reasons: The decision's reasons.
    """

    flag: FlagSpec
    share: float
    reasons: list[str]

    def yaml(self) -> str:
        """The flag as a ``flags/*.yml`` file."""
        data = self.flag.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        data["rollout"] = self.share
        return str(yaml.safe_dump({"flags": [data]}, sort_keys=False))

    def value_for(self, unit: str) -> Any:
        """The configuration a run of ``unit`` gets under this step."""
        return CompiledRollout(self.flag).evaluate(unit, None)


def next_rollout(result: AnalysisResult, *, flag: str, current: float = 0.0,
                 steps: Sequence[float] = STEPS) -> RolloutStep:
    """The rollout share after ``current``, guarded by the experiment's decision.

    Args:
        result: The pipeline experiment's analysis (gates and guardrails included).
        flag: The flag's name; its value is the winning variant, its default the control.
        current: The share rolled out so far.
        steps: The ladder of shares.
    """
    decision = pipeline_decision(result)
    winners = [r.variant for r in result.results if r.role == "primary" and r.significant]
    ship = decision.verdict == "ship" and bool(winners)
    share = next((s for s in steps if s > current), steps[-1]) if ship else 0.0
    spec = FlagSpec.model_validate({"name": flag, "rollout": share,
                                    "value": winners[0] if ship else result.control,
                                    "default": result.control})
    reasons = decision.reasons if ship else [f"held at 0: {decision.verdict}", *decision.reasons]
    return RolloutStep(spec, share, reasons)
