"""assay: warehouse-native experimentation.

>>> import assay
>>> project = assay.load_project("demo")            # doctest: +SKIP
>>> result = assay.analyze(project, "checkout_redesign")  # doctest: +SKIP
"""

from __future__ import annotations

from assay.analysis import AnalysisResult, MetricResult, analyze
from assay.errors import AssayError, SpecError, WarehouseError
from assay.spec import load_project

__version__ = "0.1.0"

__all__ = [
    "AnalysisResult",
    "AssayError",
    "MetricResult",
    "SpecError",
    "WarehouseError",
    "__version__",
    "analyze",
    "load_project",
]
