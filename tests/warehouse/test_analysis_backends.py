"""One experiment analysis, every engine: the same data must give the same figures.

The oracle is the analysis of the demo project on its own DuckDB file (the default path); each
engine gets the demo's tables through ``write_table`` and runs the same ``assay.analyze``. Every
number in the JSON result (arms, metric comparisons overall and per segment, trust checks) must
agree to 1e-9 relative; SQL text, versions and timestamps naturally differ and are left out.
Spark runs it three ways: local mode, on the standalone test cluster, and over Spark Connect.

The shop project of ``tests/analysis`` adds the rank-sum (Mann-Whitney) and Poisson-bootstrap
queries over awkward unit ids (accents, CJK, emoji, quotes, a long id), compared the same way.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlglot import exp
from tests.analysis.shop import Shop, build_shop, write_project
from tests.spark_cluster import SPARK_MODES, spark_marks

from assay.analysis import analyze
from assay.analysis.replay import aa_replay
from assay.demo import build_demo
from assay.spec.project import load_project
from assay.warehouse.base import Warehouse
from assay.warehouse.duckdb import DuckDBWarehouse

# recs_carousel trips every pitfall check: their SQL (by day, segment, hash, overlap) on each
# engine; its two segment columns check that segment results come in one order everywhere
EXPERIMENTS = ("checkout_redesign", "search_ranking_3arm", "recs_carousel")
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


def _engines() -> list[Any]:
    """Every engine; Spark's modes are slow (about a minute of jobs each on two cores), and
    still run by `make test`."""
    return [pytest.param("duckdb", id="duckdb"),
            pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
            *(pytest.param(mode, id=mode, marks=spark_marks(mode, pytest.mark.slow))
              for mode in SPARK_MODES)]


@pytest.mark.parametrize("warehouse", _engines(), indirect=True)
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


class ShopCase:
    """The shop project (rank tests and bootstrap) and its reference analysis on DuckDB."""

    def __init__(self, root: Path) -> None:
        self.shop: Shop = build_shop()
        self.root = write_project(root, self.shop)
        self.reference = analyze(load_project(self.root), "exp").to_dict()


@pytest.fixture(scope="module")
def shop_case(tmp_path_factory: pytest.TempPathFactory) -> ShopCase:
    return ShopCase(tmp_path_factory.mktemp("shop-engines"))


@pytest.mark.parametrize("warehouse", _engines(), indirect=True)
def test_rank_and_bootstrap_queries_agree_across_engines(warehouse: Warehouse,
                                                         shop_case: ShopCase) -> None:
    for name in ("exposures", "orders", "sessions"):
        warehouse.write_table(name, getattr(shop_case.shop, name), mode="replace")
    got = analyze(load_project(shop_case.root), "exp", warehouse=warehouse).to_dict()
    want = copy.deepcopy(shop_case.reference)
    assert want["rank_tests"] and want["bootstrap"], "the reference has both kinds"
    _check_float_sum_ranks(got, want)
    problems = _differences(got, want, "exp")
    assert not problems, "\n".join(problems[:40])


def _check_float_sum_ranks(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Revenue is a per-unit sum of floats: engines add in different orders, so two units tied
    in one engine can differ in the last bit in another, moving U by half a rank per pair (see
    ``test_mann_whitney_on_float_sums_agrees_up_to_a_tie``). Allow that, then drop the pair from
    the exact comparison; the integer and per-unit-average rank tests stay exact."""
    [g] = [r for r in got["rank_tests"] if r["metric"] == "revenue"]
    [w] = [r for r in want["rank_tests"] if r["metric"] == "revenue"]
    n_c, n_t = w["n_control"], w["n_treatment"]
    assert (g["n_control"], g["n_treatment"]) == (n_c, n_t)
    assert abs(g["u"] - w["u"]) <= 1.0
    sd = math.sqrt(n_c * n_t * (n_c + n_t + 1) / 12)
    assert abs(g["p_value"] - w["p_value"]) <= 2 * 0.3989422804014327 / sd  # |dp/dU| bound
    got["rank_tests"] = [r for r in got["rank_tests"] if r is not g]
    want["rank_tests"] = [r for r in want["rank_tests"] if r is not w]
