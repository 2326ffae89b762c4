"""The winsorizing cap on PostgreSQL: computed once (an InitPlan), not per unit, and the same
numbers as on DuckDB. The cap used to be a cross-joined one-row aggregate that PostgreSQL
re-ran for every unit (5,684 loops x 7.3 ms at 6k users)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.analysis.shop import build_shop, write_project

from assay.analysis.run import analyze
from assay.metrics.compile import compile_analysis
from assay.spec import load_project
from assay.warehouse.base import Warehouse


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_winsorized_metric_on_postgres(postgres_url: str, postgres_wh: Warehouse,
                                       tmp_path: Path) -> None:
    shop = build_shop(n_units=1500)
    duck = load_project(write_project(tmp_path / "duck", shop, segments=False))
    for name in ("exposures", "orders", "sessions"):
        postgres_wh.write_table(name, getattr(shop, name), mode="replace")
    pg = load_project(write_project(tmp_path / "pg", shop, warehouse=postgres_url,
                                    segments=False))
    compiled = compile_analysis(pg, "exp")
    assert compiled.metrics_query is not None
    sql = compiled.metrics_query.sql(dialect="postgres")
    assert "PERCENTILE_CONT" in sql and "CROSS JOIN" not in sql
    explained = postgres_wh.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql).column(0)[0]
    plan = json.loads(str(explained))[0]["Plan"]
    percentile = [n for n in _nodes(plan) if n.get("Node Type") == "Aggregate"
                  and n.get("Subplan Name", "").startswith("InitPlan")]
    assert percentile and all(n["Actual Loops"] == 1 for n in percentile)
    expected = {r.metric: r for r in analyze(duck, "exp").results}
    for r in analyze(pg, "exp").results:
        if r.metric == "revenue_capped":
            want = expected[r.metric]
            assert (r.mean_control, r.mean_treatment, r.p_value) == pytest.approx(
                (want.mean_control, want.mean_treatment, want.p_value), rel=1e-9)
