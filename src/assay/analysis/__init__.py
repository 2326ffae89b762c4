"""Orchestration: spec -> SQL -> sufficient statistics -> stats -> result."""

from __future__ import annotations

from assay.analysis.results import AnalysisResult, Arm, Check, MetricResult
from assay.analysis.run import analyze

__all__ = ["AnalysisResult", "Arm", "Check", "MetricResult", "analyze"]
