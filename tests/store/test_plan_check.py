"""The plan_changed check, a pure function of two plans: every changed field named, graded."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from assay.checks.plan import check_plan, plan_changes
from assay.results import DEVIATES, AnalysisResult, decide
from assay.store.rows import sha256


def _plan(**experiment: Any) -> dict[str, Any]:
    metrics = {"revenue": {"name": "revenue", "value": "amount", "window": "14d"},
               "pages": {"name": "pages", "value": "1", "window": "7d"}}
    base: dict[str, Any] = {
        "id": "exp", "name": "Exp", "owner": "team", "alpha": 0.05, "correction": "holm",
        "cuped": True, "sequential": None, "segments": ["platform"], "start": "2026-03-02",
        "metrics": {"primary": ["revenue"], "secondary": ["pages"], "guardrails": []},
    }
    base.update(experiment)
    return {"experiment": base, "metrics": metrics,
            "metric_hashes": {n: sha256(m) for n, m in metrics.items()}}


def _with_metric(plan: dict[str, Any], name: str, **fields: Any) -> dict[str, Any]:
    out = copy.deepcopy(plan)
    out["metrics"][name].update(fields)
    out["metric_hashes"][name] = sha256(out["metrics"][name])
    return out


@given(st.sampled_from(["alpha", "correction", "cuped", "sequential"]))
def test_a_change_that_decides_significance_fails(field: str) -> None:
    changed = {"alpha": 0.1, "correction": "none", "cuped": False,
               "sequential": {"method": "msprt"}}[field]
    check = check_plan(_plan(), _plan(**{field: changed}), version=1)
    assert check.status == "fail" and check.message.count(f"{field}: ") == 1
    assert [c["field"] for c in check.figures["changes"]] == [field]


@given(st.floats(0.001, 0.4), st.floats(0.001, 0.4))
def test_alpha_fails_exactly_when_it_differs(frozen: float, current: float) -> None:
    check = check_plan(_plan(alpha=frozen), _plan(alpha=current), version=3)
    assert check.status == ("pass" if frozen == current else "fail")
    assert check.figures["plan_version"] == 3


def test_roles_segments_and_free_fields() -> None:
    metrics = {"primary": ["revenue"], "secondary": ["pages", "orders"], "guardrails": []}
    grow = plan_changes(_plan(), _plan(metrics=metrics, segments=["platform", "country"]))
    assert [(c.field, c.severity) for c in grow] == [("metrics.secondary", "warn"),
                                                     ("segments", "warn")]
    swap = plan_changes(_plan(), _plan(metrics={**metrics, "primary": ["pages"]}))
    assert ("metrics.primary", "fail") in [(c.field, c.severity) for c in swap]
    dropped = _plan(metrics={"primary": ["revenue"], "secondary": [], "guardrails": ["pages"]})
    assert [c.severity for c in plan_changes(dropped, _plan(metrics={
        "primary": ["revenue"], "secondary": [], "guardrails": []}))] == ["fail"]
    assert plan_changes(_plan(), _plan(name="Renamed", owner="other", hypothesis="h")) == []


def test_metric_drift_is_graded_by_role() -> None:
    primary = plan_changes(_plan(), _with_metric(_plan(), "revenue", window="7d"))
    assert [(c.field, c.severity) for c in primary] == [("metric revenue (window)", "fail")]
    assert primary[0].frozen == {"window": "14d"} and primary[0].current == {"window": "7d"}
    secondary = plan_changes(_plan(), _with_metric(_plan(), "pages", value="2"))
    assert [(c.field, c.severity) for c in secondary] == [("metric pages (value)", "warn")]


def test_a_failed_plan_check_leads_the_recommendation() -> None:
    check = check_plan(_plan(), _plan(alpha=0.1), version=1)
    result = AnalysisResult("exp", None, None, "h", "2026-01-01T00:00:00", "control", 0.1,
                            "holm", False, "duckdb", [], [], [], [check], {}, {})
    decision = decide(result)
    assert decision.verdict == DEVIATES and "alpha: 0.05 -> 0.1" in decision.reasons[0]
