"""The issue's "done when", on the demo: pre-registration, decisions and the gate of `assay run`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.store.cli import assay, count, set_key

from assay.results import DEVIATES


def _plan_check(output: str) -> dict[str, object]:
    data = json.loads(output)
    [check] = [c for c in data["checks"] if c["name"] == "plan_changed"]
    return {"data": data, "check": check}


def test_changing_alpha_after_start_fails_plan_changed_naming_alpha(demo: Path) -> None:
    assert assay(demo, "start", "homepage_aa").exit_code == 0
    first = assay(demo, "analyze", "homepage_aa", "--format", "json")
    assert first.exit_code == 0, first.output
    before = _plan_check(first.output)
    assert before["check"]["status"] == "pass"  # type: ignore[index]
    set_key(demo / "experiments" / "homepage_aa.yml", "alpha", "0.1")
    second = assay(demo, "analyze", "homepage_aa", "--format", "json")
    assert second.exit_code == 4, second.output
    after = _plan_check(second.output)
    check, data = after["check"], after["data"]
    assert check["status"] == "fail" and "alpha: 0.05 -> 0.1" in check["message"]  # type: ignore[index]
    assert [c["field"] for c in check["figures"]["changes"]] == ["alpha"]  # type: ignore[index]
    assert data["recommendation"]["verdict"] == DEVIATES  # type: ignore[index]
    assert data["lifecycle"]["status"] == "running"  # type: ignore[index]
    assert data["lifecycle"]["owner"] == "experimentation-platform"  # type: ignore[index]
    assert count(demo, "analyses") == 2


def test_decide_writes_one_row_and_refuses_what_it_should(demo: Path) -> None:
    assay(demo, "start", "homepage_aa")
    assert assay(demo, "decide", "homepage_aa", "ship", "--variant", "treatment", "--by", "ana",
                 "--why", "x").exit_code == 1  # never analysed
    assert assay(demo, "analyze", "homepage_aa").exit_code == 0
    set_key(demo / "experiments" / "homepage_aa.yml", "correction", "none")
    assert assay(demo, "analyze", "homepage_aa").exit_code == 4
    refused = assay(demo, "decide", "homepage_aa", "ship", "--variant", "treatment", "--by", "ana",
                    "--why", "looks fine")
    assert refused.exit_code == 1 and "--override" in refused.output
    unknown = assay(demo, "decide", "homepage_aa", "rollback", "--variant", "treatmnt", "--by",
                    "ana", "--why", "x")
    assert unknown.exit_code == 1 and "did you mean `treatment`" in unknown.output
    assert count(demo, "decisions") == 0
    done = assay(demo, "decide", "homepage_aa", "ship", "--variant", "treatment", "--by", "ana",
                 "--why", "A/A: ship the identical arm", "--link", "https://wiki/aa", "--override")
    assert done.exit_code == 0, done.output
    assert "(override)" in done.output
    again = assay(demo, "decide", "homepage_aa", "iterate", "--by", "bo", "--why", "again")
    assert again.exit_code == 1 and "decided already" in again.output
    assert count(demo, "decisions") == 1
    listed = json.loads(assay(demo, "list", "--format", "json").output)
    [aa] = [e for e in listed if e["experiment"] == "homepage_aa"]
    assert (aa["status"], aa["latest_decision"], aa["owner"]) == (
        "decided", "ship", "experimentation-platform")
    shown = json.loads(assay(demo, "analyze", "homepage_aa", "--format", "json",
                             "--fail-on", "never").output)
    [decision] = shown["decisions"]
    assert decision["override"] is True and decision["decided_by"] == "ana"
    assert decision["recommendation"] == DEVIATES and decision["link"] == "https://wiki/aa"


def test_run_all_running_gates_on_the_srm_experiment(demo: Path) -> None:
    for experiment in ("checkout_redesign", "homepage_aa", "pricing_banner_srm"):
        assert assay(demo, "start", experiment).exit_code == 0
    everything = assay(demo, "run", "--all-running")
    assert everything.exit_code == 4, everything.output
    [srm_line] = [line for line in everything.output.splitlines()
                  if line.startswith("pricing_banner_srm")]
    assert "fail: srm" in srm_line and "untrustworthy" in srm_line
    assert "search_ranking_3arm" not in everything.output  # a draft is not running
    clean = assay(demo, "run", "checkout_redesign", "homepage_aa")
    assert clean.exit_code == 0, clean.output
    assert all(" same " in line for line in clean.output.splitlines())  # unchanged data
    assert count(demo, "analyses") == 3
    assert assay(demo, "run", "--all-running", "--fail-on", "never").exit_code == 0
    assert assay(demo, "run", "checkout_redesign", "--fail-on", "warn").exit_code == 4
    assert assay(demo, "run", "nope").exit_code == 2
    assert assay(demo, "run").exit_code == 2


def test_start_stop_and_amend_refuse_the_wrong_state(demo: Path) -> None:
    assert assay(demo, "stop", "checkout_redesign").exit_code == 1  # a draft
    assert assay(demo, "start", "checkout_redesign").exit_code == 0
    twice = assay(demo, "start", "checkout_redesign")
    assert twice.exit_code == 1 and "--amend" in twice.output
    nothing = assay(demo, "start", "checkout_redesign", "--amend", "--why", "no change")
    assert nothing.exit_code == 1 and "nothing to amend" in nothing.output
    set_key(demo / "experiments" / "checkout_redesign.yml", "segments", "[platform, country]")
    assert assay(demo, "start", "checkout_redesign", "--amend").exit_code == 1  # needs --why
    amended = assay(demo, "start", "checkout_redesign", "--amend", "--why", "country added")
    assert amended.exit_code == 0 and "plan v2" in amended.output
    data = json.loads(assay(demo, "analyze", "checkout_redesign", "--format", "json").output)
    [check] = [c for c in data["checks"] if c["name"] == "plan_changed"]
    assert check["status"] == "pass" and check["figures"]["plan_version"] == 2
    assert assay(demo, "stop", "checkout_redesign").exit_code == 0
    assert assay(demo, "stop", "checkout_redesign").exit_code == 1
    history = assay(demo, "history", "checkout_redesign", "--format", "json")
    [run] = json.loads(history.output)
    assert {r["metric"] for r in run["results"]} >= {"revenue", "conversion"}
    assert assay(demo, "stop", "checkout_redesign", "--abandon").exit_code == 0
    assert assay(demo, "stop", "checkout_redesign", "--abandon").exit_code == 1
