"""Lifecycle rules through the Python API: metric drift, data up to the stop, stale decisions."""

from __future__ import annotations

import datetime as dt
from contextlib import closing
from pathlib import Path

import pytest
from sqlglot import exp
from tests.store.cli import open_store, set_key

from assay.spec.project import load_project
from assay.store.decisions import DecisionRequest, record_decision
from assay.store.lifecycle import LifecycleError, analyse, start, stop


def test_a_changed_metric_definition_fails_even_if_the_experiment_did_not_change(
    demo: Path,
) -> None:
    store, wh = open_store(demo)
    with closing(wh):
        start(load_project(demo), store, "checkout_redesign")
        metrics = demo / "metrics" / "commerce.yml"
        metrics.write_text(metrics.read_text(encoding="utf-8").replace(
            "window: [0d, 14d]\n    pre_window", "window: [0d, 7d]\n    pre_window", 1),
            encoding="utf-8")
        recorded = analyse(load_project(demo), store, "checkout_redesign")
    [check] = [c for c in recorded.result.checks if c.name == "plan_changed"]
    assert check.status == "fail"
    assert [c["field"] for c in check.figures["changes"]] == ["metric revenue (window)"]


def test_a_changed_secondary_metric_only_warns(demo: Path) -> None:
    store, wh = open_store(demo)
    with closing(wh):
        start(load_project(demo), store, "homepage_aa")
        set_key(demo / "experiments" / "homepage_aa.yml", "segments", "[platform]")
        recorded = analyse(load_project(demo), store, "homepage_aa")
    [check] = [c for c in recorded.result.checks if c.name == "plan_changed"]
    assert check.status == "warn" and "segments: [platform, country] -> [platform]" in (
        check.message)
    assert recorded.recommendation.verdict != "deviates from the pre-registered plan"


def test_analyses_after_the_stop_use_data_up_to_it(demo: Path) -> None:
    project = load_project(demo)
    store, wh = open_store(demo)
    with closing(wh):
        start(project, store, "checkout_redesign", at=dt.datetime(2026, 3, 1))
        full = analyse(project, store, "checkout_redesign")
        stop(project, store, "checkout_redesign", at=dt.datetime(2026, 3, 8, 12))
        cut = analyse(project, store, "checkout_redesign")
        latest = store.latest_analysis("checkout_redesign")
    assert 0 < cut.result.units < full.result.units
    assert latest is not None and latest.window_end == dt.datetime(2026, 3, 8, 12)
    assert latest.experiment_status == "stopped"
    [check] = [c for c in cut.result.checks if c.name == "plan_changed"]
    assert check.status == "pass"  # the stop is not a change of plan


def test_a_decision_on_stale_data_or_spec_is_refused(demo: Path) -> None:
    project = load_project(demo)
    store, wh = open_store(demo)
    request = DecisionRequest("checkout_redesign", "ship", "ana", "revenue up",
                              variant="treatment")
    with closing(wh):
        start(project, store, "checkout_redesign")
        analyse(project, store, "checkout_redesign")
        row = wh.execute('SELECT * FROM "exposures" WHERE "experiment_id" = '
                         "'checkout_redesign' AND \"timestamp\" >= '2026-03-05' "
                         "LIMIT 1").to_pylist()[0]
        late = exp.insert(exp.Values(expressions=[exp.Tuple(expressions=[
            exp.Literal.string("late_unit") if k == "unit_id" else
            exp.cast(exp.Literal.string(str(v)), "TIMESTAMP") if k == "timestamp"
            else exp.Literal.string(str(v)) for k, v in row.items()])]),
            exp.to_table("exposures"), columns=list(row))
        wh.execute(late.sql(dialect="duckdb"))
        with pytest.raises(LifecycleError, match="stale"):
            record_decision(project, store, request)
        analyse(project, store, "checkout_redesign")
        set_key(demo / "experiments" / "checkout_redesign.yml", "name", "One-page checkout")
        changed = load_project(demo)
        with pytest.raises(LifecycleError, match="another version of the spec"):
            record_decision(changed, store, request)  # the spec hash covers every field
        analyse(changed, store, "checkout_redesign")
        assert record_decision(changed, store, request).decision == "ship"
        assert len(store.decisions("checkout_redesign")) == 1


def test_a_decision_on_another_spec_is_refused(demo: Path) -> None:
    project = load_project(demo)
    store, wh = open_store(demo)
    with closing(wh):
        analyse(project, store, "search_ranking_3arm")
        set_key(demo / "experiments" / "search_ranking_3arm.yml", "alpha", "0.01")
        with pytest.raises(LifecycleError, match="another version of the spec"):
            record_decision(load_project(demo), store, DecisionRequest(
                "search_ranking_3arm", "rollback", "ana", "x"))
        assert store.decisions() == []
