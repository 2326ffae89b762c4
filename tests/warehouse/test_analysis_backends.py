"""One experiment analysis, three engines: the same data must give the same figures.

The oracle is the analysis of the demo project on its own DuckDB file (the default path); each
engine gets the demo's tables through ``write_table`` and runs the same ``assay.analyze``. Every
number in the JSON result (arms, metric comparisons overall and per segment, trust checks) must
agree to 1e-9 relative; SQL text, versions and timestamps naturally differ and are left out.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlglot import exp

from assay.analysis import analyze
from assay.analysis.replay import aa_replay
from assay.demo import build_demo
from assay.spec.project import load_project
from assay.warehouse.base import Warehouse
from assay.warehouse.duckdb import DuckDBWarehouse

EXPERIMENTS = ("checkout_redesign", "search_ranking_3arm")
#: The demo's A/A period: an A/A replay there must give every engine the same p-values.
REPLAY = ("revenue", dt.datetime(2026, 2, 23), dt.datetime(2026, 3, 9), 30)
USERS = 2_000
REL = 1e-9
# the fingerprint hashes the engine's SQL and prints its timestamps its own way
_ENGINE_SPECIFIC = {"run_at", "warehouse", "versions", "sql", "fingerprint"}


class Demo:
    """The demo project directory, its tables, and the reference results on its DuckDB file."""

    def __init__(self, root: Path) -> None:
        info = build_demo(root, users=USERS)
        self.root = root
        source = DuckDBWarehouse(info.warehouse, read_only=True)
        try:
            self.tables: dict[str, pa.Table] = {
                name: source.execute(_select_all(name)) for name in info.tables
            }
        finally:
            source.close()
        project = load_project(root)
        self.reference = {eid: analyze(project, eid).to_dict() for eid in EXPERIMENTS}
        metric, start, end, splits = REPLAY
        self.replay = aa_replay(project, metric, start, end, splits=splits).p_values


def _select_all(table: str) -> str:
    return exp.select("*").from_(exp.to_table(table)).sql(dialect="duckdb", identify=True)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return Demo(tmp_path_factory.mktemp("demo-analysis"))


def _differences(got: Any, want: Any, path: str = "") -> list[str]:
    """Every place where ``got`` and ``want`` disagree (floats to ``REL`` relative)."""
    if isinstance(want, dict) and isinstance(got, dict):
        keys = (set(want) | set(got)) - _ENGINE_SPECIFIC
        return [d for k in sorted(keys)
                for d in _differences(got.get(k), want.get(k), f"{path}.{k}")]
    if isinstance(want, list | tuple) and isinstance(got, list | tuple):
        if len(want) != len(got):
            return [f"{path}: {len(got)} items, expected {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want, strict=True))
                for d in _differences(g, w, f"{path}[{i}]")]
    if isinstance(want, float) and isinstance(got, int | float) and not isinstance(got, bool):
        if math.isclose(got, want, rel_tol=REL, abs_tol=1e-300):
            return []
        return [f"{path}: {got!r} != {want!r}"]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


def test_reference_is_a_real_analysis(demo: Demo) -> None:
    checkout = demo.reference["checkout_redesign"]
    assert checkout["units"] > 0.8 * USERS * 0.5  # most users are in the checkout test
    assert {r["metric"] for r in checkout["results"]} >= {"revenue", "conversion"}
    assert checkout["segments"], "the checkout experiment is segmented by platform"
    assert len({r["variant"] for r in demo.reference["search_ranking_3arm"]["results"]}) == 2


#: Engines whose per-segment figures are known to differ, and why. Checked strictly: when the
#: gap is fixed the test fails until the entry is removed.
SEGMENT_GAPS: dict[str, str] = {}


@pytest.mark.parametrize("warehouse", [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    # About a minute of Spark jobs on two cores: a slow test, still run by `make test`.
    pytest.param("spark", id="spark", marks=[pytest.mark.spark, pytest.mark.slow,
                                              pytest.mark.xdist_group("spark")]),
], indirect=True)
def test_analysis_figures_agree_across_engines(warehouse: Warehouse, demo: Demo) -> None:
    for name, table in demo.tables.items():
        warehouse.write_table(name, table, mode="replace")
    project = load_project(demo.root)
    segment_problems: list[str] = []
    for eid in EXPERIMENTS:
        got = analyze(project, eid, warehouse=warehouse).to_dict()
        assert got["warehouse"] == warehouse.name
        want = demo.reference[eid]
        overall = _differences({**got, "segments": []}, {**want, "segments": []}, eid)
        assert not overall, "\n".join(overall[:40])
        segment_problems += _differences(got["segments"], want["segments"], f"{eid}.segments")
    metric, start, end, splits = REPLAY
    replay = aa_replay(project, metric, start, end, splits=splits, warehouse=warehouse).p_values
    assert replay == pytest.approx(demo.replay, rel=1e-9, abs=1e-12)
    gap = SEGMENT_GAPS.get(warehouse.name)
    if gap is None:
        assert not segment_problems, "\n".join(segment_problems[:40])
    elif segment_problems:
        pytest.xfail(f"known gap: {gap}")
    else:
        pytest.fail(f"known gap fixed, remove it from SEGMENT_GAPS: {gap}")
