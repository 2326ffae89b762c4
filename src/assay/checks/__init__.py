"""Trust checks: their verdicts are part of every analysis result, not an optional extra."""

from __future__ import annotations

from assay.checks.exposure import ExposureCounts, exposure_checks
from assay.checks.results import result_checks

__all__ = ["ExposureCounts", "exposure_checks", "result_checks"]
