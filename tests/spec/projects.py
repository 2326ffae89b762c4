"""A valid project written from `assay init`'s templates, and the pipeline `assay validate`
and `assay sql` run on it, for the spec robustness tests."""

from __future__ import annotations

from pathlib import Path

from assay.spec.scaffold import EXPERIMENT, METRICS, PROJECT


def write(root: Path, project: str = PROJECT, metrics: str = METRICS,
          experiment: str = EXPERIMENT, name: str = "new_checkout.yml") -> Path:
    """The init project in ``root`` with any of its three files replaced."""
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "experiments").mkdir(parents=True, exist_ok=True)
    (root / "assay_project.yml").write_text(project, encoding="utf-8")
    (root / "metrics" / "core.yml").write_text(metrics, encoding="utf-8")
    (root / "experiments" / name).write_text(experiment, encoding="utf-8")
    return root


def check(root: Path) -> None:
    """What `assay validate --offline` and `assay sql` do: load, hygiene, plan, compile.

    Raises:
        SpecError: The project is invalid (the only exception allowed).
    """
    from assay.errors import SpecError
    from assay.metrics.compile import compile_analysis
    from assay.spec import load_project
    from assay.spec.validate import salt_issues

    loaded = load_project(root)
    errors = [i for i in salt_issues(loaded) if i.severity == "error"]
    if errors:
        raise SpecError(errors)
    for experiment_id in loaded.experiments:
        compiled = compile_analysis(loaded, experiment_id)
        for query in (compiled.exposure_query, compiled.metrics_query):
            if query is not None:
                query.sql(dialect=compiled.dialect)
