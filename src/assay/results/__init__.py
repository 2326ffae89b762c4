"""Result data and the recommendation rule: the low room every reader of results imports.

``analysis`` produces these objects, ``checks`` builds its verdicts from them, and ``store``,
``report`` and ``web`` read them; this package imports none of those rooms, so the rule that
turns a result into a recommendation is written once and shared by all of them.
"""

from __future__ import annotations

from assay.results.model import (
    JSON_SCHEMA_VERSION,
    AnalysisResult,
    Arm,
    BootstrapInterval,
    Check,
    MetricResult,
    RankTest,
    Status,
)
from assay.results.recommendation import (
    DEVIATES,
    PLAN_CHECK,
    Decision,
    decide,
    is_loss,
    is_win,
)

__all__ = [
    "DEVIATES",
    "JSON_SCHEMA_VERSION",
    "PLAN_CHECK",
    "AnalysisResult",
    "Arm",
    "BootstrapInterval",
    "Check",
    "Decision",
    "MetricResult",
    "RankTest",
    "Status",
    "decide",
    "is_loss",
    "is_win",
]
