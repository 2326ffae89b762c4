"""Orchestration: spec -> SQL -> sufficient statistics -> stats -> result.

``analyze`` is imported on first use: reading or rendering stored results needs no scipy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay.results import AnalysisResult, Arm, Check, MetricResult

if TYPE_CHECKING:
    from assay.analysis.run import analyze

__all__ = ["AnalysisResult", "Arm", "Check", "MetricResult", "analyze"]


def __getattr__(name: str) -> Any:
    if name == "analyze":
        from assay.analysis.run import analyze

        return analyze
    raise AttributeError(f"module 'assay.analysis' has no attribute {name!r}")
