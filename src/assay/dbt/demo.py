"""``assay demo --dbt``: the demo shop with its metrics defined in a dbt project.

The same warehouse and experiments as the YAML demo (:func:`assay.demo.build_demo`); the
metrics come from the dbt project's semantic layer instead of ``metrics/*.yml``, and dbt builds
the staging and fact models into the demo warehouse. The analyses equal the YAML demo's.
"""

from __future__ import annotations

import shutil
import time
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from assay.dbt.runner import DbtRun, failure_issue, run_dbt
from assay.demo import DemoInfo, build_demo
from assay.errors import SpecError

DBT_DIR = "dbt"
# Metric files the dbt project does not replace: the trust-check trap experiment's metrics
# read an inline source of their own, not the shop's models.
_KEPT = ("carousel.yml",)


def build_dbt_demo(out_dir: Path, *, seed: int = 7, users: int = 60_000) -> DemoInfo:
    """Build the demo in ``out_dir`` with its metrics in a dbt project, and ``dbt build`` it.

    Raises:
        DbtNotFound: dbt is not installed (see docs/dbt.md).
        SpecError: ``dbt build`` failed (dbt's error, located at the file it names).
    """
    info = build_demo(out_dir, seed=seed, users=users)
    started = time.perf_counter()
    template = resources.files("assay.dbt").joinpath("template")
    for stale in (out_dir / "metrics").glob("*.yml"):
        if stale.name not in _KEPT:
            stale.unlink()
    _copy(template.joinpath("metrics"), out_dir / "metrics")
    (out_dir / "assay_project.yml").write_bytes(template.joinpath("assay_project.yml").read_bytes())
    dbt_dir = out_dir / DBT_DIR
    if dbt_dir.exists():
        shutil.rmtree(dbt_dir)
    _copy(template.joinpath(DBT_DIR), dbt_dir)
    build_dbt(dbt_dir)
    return DemoInfo(
        out_dir=info.out_dir, warehouse=info.warehouse, project_file=info.project_file,
        metric_files=tuple(sorted((out_dir / "metrics").glob("*.yml"))),
        experiment_files=info.experiment_files, seed=info.seed, users=info.users,
        tables=info.tables, experiments=info.experiments,
        seconds=info.seconds + time.perf_counter() - started,
    )


def build_dbt(dbt_dir: Path) -> DbtRun:
    """``dbt build`` (models and their tests) in ``dbt_dir``; a failure is a :class:`SpecError`."""
    run = run_dbt(["build"], dbt_dir)
    if not run.ok:
        raise SpecError([failure_issue(run, dbt_dir)])
    return run


def _copy(source: Traversable, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.is_dir():
            _copy(entry, target / entry.name)
        elif entry.name.endswith((".yml", ".sql", ".csv")):
            (target / entry.name).write_bytes(entry.read_bytes())
