"""The example test in docs/warehouses.md runs, on every engine, exactly as printed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
