"""Project, metric and experiment specs: YAML loading with located errors.

The names below are imported on first use (PEP 562): importing ``assay.spec.models`` alone (the
SDK, the collector) does not pull in the project loader and, through it, the warehouse backends.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.spec.models import ExperimentSpec, MetricSpec, ProjectSpec, Source, Window
    from assay.spec.project import Project, load_project

_HOMES = {"ExperimentSpec": "models", "MetricSpec": "models", "ProjectSpec": "models",
          "Source": "models", "Window": "models", "Project": "project",
          "load_project": "project"}

__all__ = [
    "ExperimentSpec",
    "MetricSpec",
    "Project",
    "ProjectSpec",
    "Source",
    "Window",
    "load_project",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"assay.spec.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'assay.spec' has no attribute {name!r}")
