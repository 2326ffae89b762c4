"""A shop with a mixed family for multiplicity tests: two treatments, one with a real effect.

Seed and effect are chosen so that the 12 comparisons (6 metrics x 2 treatments) hold some
clear rejections, many nulls, and one comparison (aov, treatment) that Holm rejects while
Bonferroni does not: the case where Holm's verdict goes beyond the intervals it reports.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.analysis.shop import Shop, build_shop, experiment_yaml, write_project

from assay.analysis import AnalysisResult, analyze

VARIANTS = ("control", "treatment", "t2")
ALPHA = 0.05


def mixed_shop() -> Shop:
    """The raw tables (deterministic)."""
    return build_shop(seed=12, effect=0.3, variants=VARIANTS)


def mixed_project(root: Path, shop: Shop) -> Path:
    """The project with its DuckDB warehouse written under ``root``."""
    return write_project(root, shop, variants=VARIANTS)


def analyze_with(project: Path, correction: str, into: Path) -> AnalysisResult:
    """Analyse a copy of ``project`` (in ``into``) under ``correction``, no rank tests/bootstrap."""
    copy = Path(shutil.copytree(project, into))
    spec = experiment_yaml(True, VARIANTS).replace("correction: holm", f"correction: {correction}")
    kept = [line for line in spec.splitlines() if not line.startswith(("rank_tests", "bootstrap"))]
    assert f"correction: {correction}" in kept
    (copy / "experiments" / "exp.yml").write_text("\n".join(kept) + "\n", encoding="utf-8")
    return analyze(copy, "exp")
