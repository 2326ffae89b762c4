"""Project, metric and experiment specs: YAML loading with located errors."""

from __future__ import annotations

from assay.spec.models import ExperimentSpec, MetricSpec, ProjectSpec, Source, Window
from assay.spec.project import Project, load_project

__all__ = [
    "ExperimentSpec",
    "MetricSpec",
    "Project",
    "ProjectSpec",
    "Source",
    "Window",
    "load_project",
]
