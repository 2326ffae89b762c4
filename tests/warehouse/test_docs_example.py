"""The example test in docs/warehouses.md runs, on every engine, exactly as printed; its
``assay_project.yml`` examples are valid and their URLs parse."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from assay.spec.models import ProjectSpec
from assay.warehouse import dialect_of
from assay.warehouse.base import Warehouse

DOC = Path(__file__).resolve().parents[2] / "docs" / "warehouses.md"


def _example() -> Any:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1, "docs/warehouses.md should hold exactly one Python example"
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)  # our own documentation
    return namespace["test_mean_per_arm"]


def test_documented_example_runs(warehouse: Warehouse, load_table: Any, run_sql: Any,
                                 as_rows: Any) -> None:
    _example()(warehouse, load_table, run_sql, as_rows)


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_documented_project_files_are_valid_and_their_urls_parse(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark", reason="the Spark examples need PySpark (assay[spark])")
    from assay.warehouse.spark import _parse_connect_url

    # the Spark project files (the page also shows a PostgreSQL `warehouse:` line)
    blocks = [b for b in _yaml_blocks() if "sc://" in b or "spark://" in b]
    assert len(blocks) >= 2, "docs/warehouses.md shows a Connect and a Databricks project"
    for block in blocks:
        spec = ProjectSpec.model_validate(yaml.safe_load(block))
        assert dialect_of(spec.warehouse) == "spark"
        variable = re.search(r"token_env=(\w+)", spec.warehouse)
        assert variable, "every documented Connect URL takes its token from the environment"
        monkeypatch.setenv(variable.group(1), "not-a-real-token")
        client, _, token = _parse_connect_url(spec.warehouse)
        assert token == "not-a-real-token" and client.endswith(";token=not-a-real-token")
