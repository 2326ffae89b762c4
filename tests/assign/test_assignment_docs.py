"""docs/assignment.md tells the truth: its example runs, its SQL is what assay generates, its
ranges are what the layout computes."""

from __future__ import annotations

import re
from pathlib import Path

from sqlglot import exp

from assay.assign.layout import variant_ranges
from assay.assign.sql import bucket_expression

DOC = (Path(__file__).parents[2] / "docs" / "assignment.md").read_text(encoding="utf-8")
ENGINES = {"DuckDB": "duckdb", "PostgreSQL": "postgres", "Spark / Databricks": "spark",
           "BigQuery": "bigquery", "Snowflake": "snowflake", "Trino / Presto": "trino"}


def test_reimplementation_example_runs() -> None:
    block = re.search(r"```python\n(import hashlib.*?)```", DOC, re.DOTALL)
    assert block is not None
    exec(compile(block.group(1), "docs/assignment.md", "exec"), {})


def test_sql_table_is_what_assay_generates() -> None:
    for engine, dialect in ENGINES.items():
        row = re.search(rf"^\| {re.escape(engine)} \| `+(.+?)`+ \|$", DOC, re.MULTILINE)
        assert row is not None, engine
        documented = row.group(1).replace("\\|", "|")
        generated = bucket_expression("checkout_v2", exp.column("unit_id", quoted=True),
                                      dialect).sql(dialect)
        assert documented == generated, engine


def test_documented_ranges() -> None:
    assert [(r.start, r.end) for r in variant_ranges(["a", "b", "c"], [50, 30, 20])] == \
        [(0, 3333), (3333, 5332), (6666, 7999)]
    assert "a `[0, 3333)`, b `[3333, 5332)`, c `[6666, 7999)`" in DOC
    assert "control `[0, 1666)`, treatment `[5000, 10000)`" in DOC
