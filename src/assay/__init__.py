"""assay: warehouse-native experimentation.

>>> import assay
>>> project = assay.load_project("demo")                  # doctest: +SKIP
>>> result = assay.analyze(project, "checkout_redesign")  # doctest: +SKIP

Names are imported on first use, so ``import assay`` (and the ``assay`` command, and the SDK
in ``assay.client``) does not pay for scipy until an analysis needs it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "AnalysisResult": "assay.analysis",
    "MetricResult": "assay.analysis",
    "analyze": "assay.analysis",
    "load_project": "assay.spec",
    "AssayError": "assay.errors",
    "SpecError": "assay.errors",
    "WarehouseError": "assay.errors",
}

if TYPE_CHECKING:
    from assay.analysis import AnalysisResult, MetricResult, analyze
    from assay.errors import AssayError, SpecError, WarehouseError
    from assay.spec import load_project

__all__ = ["AnalysisResult", "AssayError", "MetricResult", "SpecError", "WarehouseError",
           "__version__", "analyze", "load_project"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'assay' has no attribute {name!r}")
