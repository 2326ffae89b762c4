"""Board = experiment: over a period, MetricFlow's total of a dbt metric equals the sum over
all units of the metric assay analyses. One definition, one number.

Every user is exposed at the period's start, so that the per-unit window [0d, 14d) of each
metric covers exactly the period MetricFlow is asked about.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from assay.analysis import analyze
from assay.results import AnalysisResult
from assay.spec import load_project

pytestmark = pytest.mark.xdist_group("dbt")
START, END = dt.date(2026, 3, 2), dt.date(2026, 3, 16)  # 14 days, END exclusive
ADDITIVE = ("revenue", "orders", "conversion", "refunds", "sessions", "pages")

EXPERIMENT = f"""\
name: Board period
variants:
  - name: a
    weight: 1
  - name: b
    weight: 1
start: {START}
end: {END - dt.timedelta(days=1)}
metrics:
  primary: [{", ".join(ADDITIVE)}]
correction: none
"""


def _expose_everyone(shop: Path) -> None:
    project = load_project(shop)
    with closing(project.warehouse()) as wh:
        wh.execute(
            "INSERT INTO exposures (experiment_id, variant, unit_id, \"timestamp\", country, "
            "platform) SELECT 'board_period', CASE WHEN hash(user_id) % 2 = 0 THEN 'a' ELSE 'b' "
            f"END, user_id, TIMESTAMP '{START} 00:00:00', country, platform FROM users"
        )
    (shop / "experiments" / "board_period.yml").write_text(EXPERIMENT, encoding="utf-8")


def _metricflow(shop: Path, dbt_bin: Path, metrics: list[str]) -> dict[str, float]:
    out = shop / "board.csv"
    day = "{{ TimeDimension('metric_time', 'day') }}"
    subprocess.run(
        [str(dbt_bin.with_name("mf")), "query", "--metrics", ",".join(metrics), "--where",
         f"{day} >= '{START}' AND {day} < '{END}'", "--csv", str(out)],
        cwd=shop / "dbt", env={**os.environ, "DBT_PROFILES_DIR": str(shop / "dbt"),
                               "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        check=True, capture_output=True, text=True, timeout=300,
    )
    with out.open() as rows:
        (row,) = list(csv.DictReader(rows))
    return {k: float(v) for k, v in row.items()}


def _total(result: AnalysisResult, metric: str) -> float:
    """Sum over every unit of the metric: each arm's mean times its units."""
    rows = [r for r in result.results if r.metric == metric]
    (row,) = rows  # two arms: one comparison
    return row.mean_control * row.n_control + row.mean_treatment * row.n_treatment


def test_metricflow_total_equals_assays_sum_over_units(shop: Path, dbt_bin: Path) -> None:
    _expose_everyone(shop)
    result = analyze(shop, "board_period")
    assert result.units == 3000
    board = _metricflow(shop, dbt_bin, [*ADDITIVE, "aov"])
    for metric in ADDITIVE:
        assert board[metric] > 0
        assert _total(result, metric) == pytest.approx(board[metric], rel=1e-9), metric
    aov = _total(result, "revenue") / _total(result, "orders")
    assert aov == pytest.approx(board["aov"], rel=1e-9)
