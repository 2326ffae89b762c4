"""The funnel's step order on arbitrary event sequences (hypothesis, DuckDB in-process).

Events of three steps at whole-second offsets from each unit's exposure, ties included, some
before exposure or past the window; the statement's per-arm counts of units reaching each step
must equal a plain-Python walk of each unit's events (step k at or after step k-1's first time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.metrics.compile import compile_analysis
from assay.metrics.kinds import comparison_plans, compile_activity
from assay.spec import load_project
from assay.spec.project import Project
from assay.warehouse.duckdb import DuckDBWarehouse

START = dt.datetime(2026, 5, 4)
STEPS = ("a", "b", "c")
WINDOW = 3 * 86400
METRICS = """\
metrics:
  - name: f
    kind: funnel
    source: events
    window: [0d, 3d]
    steps:
      - {name: a, filter: "step = 'a'"}
      - {name: b, filter: "step = 'b'"}
      - {name: c, filter: "step = 'c'"}
"""

events = st.lists(st.tuples(st.sampled_from(STEPS),
                            st.sampled_from([-60, 0, 1, 2, 3, 3600, WINDOW - 1, WINDOW, 9999])),
                  max_size=7)
units = st.lists(st.tuples(st.booleans(), events), min_size=1, max_size=8)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root: Path = tmp_path_factory.mktemp("funnel_order")
    (root / "metrics").mkdir()
    (root / "experiments").mkdir()
    (root / "assay_project.yml").write_text(
        "name: order\nsources:\n  events: {table: events, unit: unit_id, timestamp: ts}\n")
    (root / "metrics" / "m.yml").write_text(METRICS)
    (root / "experiments" / "exp.yml").write_text(
        "variants:\n  - {name: control, weight: 1, control: true}\n  - {name: treatment, "
        "weight: 1}\nstart: 2026-05-04\nend: 2026-05-10\nmetrics: {primary: [f]}\n")
    return load_project(root)


def _reached(sequence: list[tuple[str, int]]) -> list[int]:
    """1/0 per step: walk the steps, each from the previous step's first time."""
    out, since = [], 0
    for step in STEPS:
        times = sorted(t for s, t in sequence if s == step and since <= t < WINDOW and t >= 0)
        if not times:
            return out + [0] * (len(STEPS) - len(out))
        out.append(1)
        since = times[0]
    return out


@pytest.fixture(scope="module")
def wh() -> Iterator[DuckDBWarehouse]:
    with closing(DuckDBWarehouse(":memory:")) as warehouse:
        yield warehouse


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(units)
def test_steps_are_reached_in_order(project: Project, wh: DuckDBWarehouse,
                                    drawn: list[tuple[bool, list[tuple[str, int]]]]) -> None:
    ids = [f"u{i}" for i in range(len(drawn))]
    t0 = [START + dt.timedelta(hours=i) for i in range(len(drawn))]
    rows = [(ids[i], t0[i] + dt.timedelta(seconds=t), s)
            for i, (_, sequence) in enumerate(drawn) for s, t in sequence]
    expected: dict[str, list[int]] = {"control": [0, 0, 0], "treatment": [0, 0, 0]}
    for treated, sequence in drawn:
        arm = expected["treatment" if treated else "control"]
        arm[:] = [x + y for x, y in zip(arm, _reached(sequence), strict=True)]
    wh.write_table("exposures", pa.table({
        "experiment_id": ["exp"] * len(ids), "unit_id": ids,
        "variant": ["treatment" if t else "control" for t, _ in drawn],
        "timestamp": pa.array(t0, pa.timestamp("us"))}), mode="replace")
    wh.write_table("events", pa.table({
        "unit_id": pa.array([r[0] for r in rows], pa.string()),
        "ts": pa.array([r[1] for r in rows], pa.timestamp("us")),
        "step": pa.array([r[2] for r in rows], pa.string())}), mode="replace")
    [activity] = compile_analysis(project, "exp", dialect="duckdb").plan.activities
    out = wh.execute(compile_activity(project, "exp", activity, "duckdb").sql("duckdb"))
    plans = [p for p, _ in comparison_plans(activity)][: len(STEPS)]
    for row in out.to_pylist():
        got = [round(row[p.prefix + "s__y"] or 0) for p in plans]
        assert got == expected[row["variant"]]
