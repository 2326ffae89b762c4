"""The demo: a realistic shop warehouse holding experiments whose truth is known.

``build_demo(out_dir)`` writes a project (``assay_project.yml``, ``metrics/``, ``experiments/``)
and ``warehouse.duckdb`` with users, sessions, orders and exposures; the returned
:class:`DemoInfo` says what each experiment truly does, so an analysis can be checked against it.
"""

from __future__ import annotations

from assay.demo.build import build_demo, template_experiments
from assay.demo.truth import DemoInfo, ExperimentTruth

__all__ = ["DemoInfo", "ExperimentTruth", "build_demo", "template_experiments"]
