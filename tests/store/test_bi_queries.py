"""The BI queries of docs/store.md answer from DuckDB SQL alone, as a BI tool would run them.

The oracle is the analyses themselves (the AnalysisResult objects `assay run` produced), not
the store's Python readers.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from contextlib import closing
from pathlib import Path

import duckdb
import numpy as np
from tests.store.cli import open_store

from assay.spec.project import load_project
from assay.store.decisions import DecisionRequest, record_decision
from assay.store.lifecycle import Recorded, analyse, start

DOC = Path(__file__).resolve().parents[2] / "docs" / "store.md"


def queries() -> dict[str, str]:
    """The documented queries by name (``-- query: NAME`` opens each SQL block)."""
    blocks = re.findall(r"```sql\n-- query: (\w+)\n(.*?)```", DOC.read_text(encoding="utf-8"),
                        flags=re.S)
    return dict(blocks)


def _last_quarter_day(today: dt.date) -> dt.datetime:
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return dt.datetime.combine(quarter_start - dt.timedelta(days=20), dt.time(15, 0))


def test_the_three_documented_queries(demo: Path) -> None:
    assert set(queries()) == {"shipped_last_quarter", "srm_failed_share", "effects_per_metric"}
    project = load_project(demo)
    store, wh = open_store(demo)
    recorded: dict[str, Recorded] = {}
    with closing(wh):
        for experiment in sorted(project.experiments):
            start(project, store, experiment)
            recorded[experiment] = analyse(project, store, experiment)
        record_decision(project, store, DecisionRequest(
            "checkout_redesign", "ship", "ana", "revenue up", variant="treatment"))
        record_decision(project, store, DecisionRequest(
            "homepage_aa", "no-decision", "bo", "an A/A test"))
    shipped_at = _last_quarter_day(dt.date.today())
    with duckdb.connect(str(demo / "warehouse.duckdb")) as con:
        # The checkout decision was taken last quarter; the A/A one stays in this quarter.
        con.execute('UPDATE "assay_decisions" SET "decided_at" = ? WHERE "experiment_id" = ?',
                    [shipped_at, "checkout_redesign"])
        answers = {name: con.execute(sql).fetchall() for name, sql in queries().items()}

    revenue = next(r for r in recorded["checkout_redesign"].result.results
                   if r.metric == "revenue")
    [shipped] = answers["shipped_last_quarter"]
    assert shipped[:2] == ("checkout_redesign", "treatment") and shipped[3] == "revenue"
    assert shipped[2] == shipped_at
    assert math.isclose(shipped[4], revenue.rel_lift, rel_tol=1e-12)
    assert (shipped[5], shipped[6]) == revenue.rel_lift_ci

    failed = [e for e, r in recorded.items()
              if any(c.name == "srm" and c.status == "fail" for c in r.result.checks)]
    assert failed == ["pricing_banner_srm"]
    assert answers["srm_failed_share"] == [(4, 1, 0.25)]

    by_metric: dict[str, list[tuple[float, bool]]] = {}
    for r in (m for rec in recorded.values() for m in rec.result.results):
        if math.isfinite(r.rel_lift):
            by_metric.setdefault(r.metric, []).append((r.rel_lift, r.significant))
    assert [row[0] for row in answers["effects_per_metric"]] == sorted(by_metric)
    for metric, n, low, median, high, share in answers["effects_per_metric"]:
        lifts = np.array([lift for lift, _ in by_metric[metric]])
        assert n == len(lifts)
        assert math.isclose(low, lifts.min(), rel_tol=1e-12)
        assert math.isclose(high, lifts.max(), rel_tol=1e-12)
        assert math.isclose(median, float(np.median(lifts)), rel_tol=1e-9)
        assert math.isclose(share, np.mean([s for _, s in by_metric[metric]]), rel_tol=1e-12)
