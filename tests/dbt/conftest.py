"""A real dbt project, built for real: the demo shop with its metrics in dbt's semantic layer.

dbt runs from its own virtualenv (``.venv-dbt``, created by ``make .venv-dbt/.installed``):
dbt-core 1.11 pins ``pathspec<0.13`` while assay's development tools need a newer one, so the
two cannot share an environment. ``ASSAY_DBT`` names the dbt to run; without one, the tests
look for ``.venv-dbt/bin/dbt`` and skip (fail under CI) when there is none.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from tests.engines import unavailable

from assay.dbt.demo import build_dbt_demo
from assay.dbt.runner import DBT_ENV
from assay.demo import build_demo

ROOT = Path(__file__).resolve().parents[2]
USERS = 3000


def dbt_program() -> Path | None:
    """The dbt executable the tests use, or None."""
    chosen = os.environ.get(DBT_ENV)
    candidates = [Path(chosen)] if chosen else []
    candidates += [ROOT / ".venv-dbt" / "bin" / "dbt"]
    found = shutil.which("dbt")
    candidates += [Path(found)] if found else []
    return next((c for c in candidates if c.is_file()), None)


@pytest.fixture(scope="session")
def dbt_bin() -> Path:
    """dbt, exported as ``ASSAY_DBT`` for assay's own calls."""
    program = dbt_program()
    if program is None:
        unavailable("dbt is not installed: `make .venv-dbt/.installed` creates its virtualenv "
                    "(dbt-core 1.11, dbt-duckdb, dbt-metricflow), or set ASSAY_DBT")
        raise AssertionError("unreachable")
    os.environ[DBT_ENV] = str(program)
    return program


@pytest.fixture(scope="session")
def dbt_demo(dbt_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with its metrics from dbt, `dbt build` run. Read it; copy it to change it."""
    out = tmp_path_factory.mktemp("dbt_demo") / "shop"
    build_dbt_demo(out, users=USERS)
    return out


@pytest.fixture(scope="session")
def yaml_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same demo (same seed and users) with its metrics in metrics/*.yml."""
    out = tmp_path_factory.mktemp("yaml_demo") / "shop"
    build_demo(out, users=USERS)
    return out


@pytest.fixture()
def shop(dbt_demo: Path, tmp_path: Path) -> Path:
    """A private copy of the dbt demo (file times kept, so its manifest stays current)."""
    target = tmp_path / "shop"
    shutil.copytree(dbt_demo, target, copy_function=shutil.copy2)
    return target
