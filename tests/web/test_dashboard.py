"""The dashboard in a real browser: ``assay serve`` over the demo store, driven by Chromium."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tests.web.browser import screenshot
from tests.web.conftest import Server
from tests.web.demo_store import XSS, XSS_HYPOTHESIS, XSS_ID

from assay.report.format import pct
from assay.results import decide
from assay.results.decode import result_from_dict
from assay.spec import load_project

# One Chromium and one demo store: every browser test runs on the same xdist worker.
pytestmark = pytest.mark.xdist_group("browser")


def stored(project: Path) -> dict[str, dict[str, Any]]:
    """The latest stored analysis of each experiment, read from the store, not the server."""
    from contextlib import closing

    from assay.store.lifecycle import store_of

    loaded = load_project(project)
    with closing(loaded.warehouse(read_only=True)) as wh:
        store = store_of(loaded, wh, read_only=True)
        latest = {r.experiment_id: store.result_json(str(r.latest_analysis_id))
                  for r in store.experiments() if r.latest_analysis_id}
    return {k: v for k, v in latest.items() if v is not None}


def statuses(project: Path) -> dict[str, str]:
    """Each stored experiment's lifecycle status."""
    from contextlib import closing

    from assay.store.lifecycle import store_of

    loaded = load_project(project)
    with closing(loaded.warehouse(read_only=True)) as wh:
        return {r.experiment_id: r.status
                for r in store_of(loaded, wh, read_only=True).experiments()}


def test_list_shows_every_experiment_with_its_recommendation(
    page: Any, server: Server, web_project: Path, screenshots: Path
) -> None:
    project = load_project(web_project)
    latest = stored(web_project)
    page.goto(server.url + "/")
    rows = page.locator("[data-testid=experiments] tbody tr")
    assert rows.count() == len(project.experiments)
    for experiment_id, spec in project.experiments.items():
        row = page.locator(f"tr[data-experiment='{experiment_id}']")
        assert row.count() == 1
        text = row.inner_text()
        assert (spec.name or experiment_id) in text
        assert decide(result_from_dict(latest[experiment_id])).verdict in text
        assert latest[experiment_id]["status"] in text
        assert statuses(web_project)[experiment_id] in text
    screenshot(page, screenshots, "list")


def test_experiment_page_shows_the_stored_figures(
    page: Any, server: Server, web_project: Path, screenshots: Path
) -> None:
    result = stored(web_project)["checkout_redesign"]
    page.goto(server.url + "/")
    page.get_by_role("link", name="Checkout redesign").click()
    page.wait_for_url("**/experiments/checkout_redesign")
    assert page.get_by_test_id("title").inner_text() == result["name"]
    for r in result["results"]:
        row = page.locator(f"[data-testid=results] tr[data-metric='{r['metric']}']"
                           f"[data-variant='{r['variant']}']")
        assert row.locator("[data-field=rel_lift]").inner_text() == pct(r["rel_lift"])
    for check in result["checks"]:
        cell = page.locator(f"[data-testid=checks] tr[data-check='{check['name']}']")
        assert cell.get_attribute("data-status") == check["status"]
        assert check["message"] in cell.inner_text()
    assert page.locator("[data-testid=results] svg.ci-bar").count() == len(result["results"])
    page.locator("details.segment summary").first.click()
    assert page.locator("[data-testid=segment-platform] tbody tr").first.is_visible()
    assert page.get_by_text("SQL that ran").is_visible()
    screenshot(page, screenshots, "experiment")


def test_record_a_decision(
    page: Any, server: Server, web_project: Path, screenshots: Path
) -> None:
    page.goto(server.url + "/experiments/checkout_redesign")
    form = page.get_by_test_id("decision-form")
    form.locator("select[name=decision]").select_option("iterate")
    form.locator("input[name=decided_by]").fill("Ada <b>Lovelace</b>")
    form.locator("textarea[name=rationale]").fill("Revenue moved but not enough: " + XSS)
    form.get_by_role("button", name="Record decision").click()
    page.wait_for_url("**/experiments/checkout_redesign")
    history = page.get_by_test_id("decisions").inner_text()
    assert "Ada <b>Lovelace</b>" in history and XSS in history
    assert "iterate" in page.get_by_test_id("current-decision").inner_text()
    screenshot(page, screenshots, "decision")
    assert page.get_by_test_id("decision-form").count() == 0  # a decision is recorded once
    assert statuses(web_project)["checkout_redesign"] == "decided"
    page.goto(server.url + "/")
    row = page.locator("tr[data-experiment='checkout_redesign'] [data-field=decision]")
    assert row.inner_text() == "iterate"


def test_a_refused_decision_says_why_and_a_fixed_one_is_recorded(
    page: Any, server: Server, guard: Any
) -> None:
    guard.allowed_status.add(400)
    page.goto(server.url + "/experiments/pricing_banner_srm")
    form = page.get_by_test_id("decision-form")
    form.locator("select[name=decision]").select_option("ship")
    form.locator("input[name=decided_by]").fill("Grace")
    form.locator("textarea[name=rationale]").fill("ship it")
    form.get_by_role("button", name="Record decision").click()
    page.wait_for_url("**/decisions")
    error = page.get_by_test_id("error").inner_text()
    assert "`ship` needs a variant (Variant, for ship)" in error  # the form's words ...
    assert "--variant" not in error  # ... not assay decide's flag
    page.goto(server.url + "/experiments/pricing_banner_srm")
    form = page.get_by_test_id("decision-form")
    form.locator("select[name=decision]").select_option("ship")
    form.locator("input[name=decided_by]").fill("Grace")
    form.locator("textarea[name=rationale]").fill("ship it")
    form.locator("select[name=variant]").select_option("treatment")
    form.locator("input[name=override]").check()  # in case the recommendation says otherwise
    form.get_by_role("button", name="Record decision").click()
    page.wait_for_url("**/experiments/pricing_banner_srm")
    assert "ship treatment" in page.get_by_test_id("current-decision").inner_text()


def test_markup_in_user_strings_is_shown_as_text(
    page: Any, server: Server, screenshots: Path
) -> None:
    page.goto(server.url + "/")
    assert page.locator(f"tr[data-experiment='{XSS_ID}']").inner_text().count(XSS) >= 2
    page.goto(f"{server.url}/experiments/{XSS_ID}")
    assert page.get_by_test_id("title").inner_text() == XSS
    assert XSS_HYPOTHESIS in page.locator("main").inner_text()
    assert page.locator(f"[data-testid=arms] tr[data-variant='{XSS}']").count() == 1
    assert page.locator("script").count() == 0
    assert page.locator("img").count() == 0
    screenshot(page, screenshots, "markup")


def test_metric_page(page: Any, server: Server, screenshots: Path) -> None:
    page.goto(server.url + "/experiments/checkout_redesign")
    page.locator("[data-testid=results] a", has_text="revenue").first.click()
    page.wait_for_url("**/metrics/revenue")
    assert page.get_by_test_id("title").inner_text() == "revenue"
    used = page.get_by_test_id("used-by").inner_text()
    assert "checkout_redesign" in used and "homepage_aa" in used
    assert page.locator("[data-testid=effects] tbody tr").count() >= 2
    screenshot(page, screenshots, "metric")


def test_rerun_shows_progress_and_stores_a_new_analysis(
    page: Any, server: Server, web_project: Path, screenshots: Path
) -> None:
    before = _get_json(server.url + "/api/experiments/homepage_aa")["analyses"]
    _late_exposures(web_project, "homepage_aa")
    page.goto(server.url + "/experiments/homepage_aa")
    page.get_by_role("button", name="Re-run analysis").click()
    page.wait_for_url("**/jobs/*")
    state = page.get_by_test_id("job-state")
    assert state.get_attribute("data-state") in ("running", "done")
    page.wait_for_selector("[data-testid=job-state][data-state=done]", timeout=60_000)
    assert page.get_by_test_id("job-steps").locator("li").count() >= 3
    screenshot(page, screenshots, "rerun")
    page.get_by_role("link", name="See the new analysis").click()
    after = _get_json(server.url + "/api/experiments/homepage_aa")["analyses"]
    assert len(after) == len(before) + 1 and after[-1]["units"] > before[-1]["units"]
    assert page.get_by_test_id("chart").count() >= 2  # two looks: lift and units over time


def test_rerun_of_unchanged_data_stores_nothing(page: Any, server: Server) -> None:
    # homepage_aa: its data last changed before its latest stored analysis (the test above
    # appends exposures to it). Another experiment would not do: its salt-reuse check reads
    # the exposures of experiments overlapping it, which that append changed.
    before = _get_json(server.url + "/api/experiments/homepage_aa")["analyses"]
    page.goto(server.url + "/experiments/homepage_aa")
    page.get_by_role("button", name="Re-run analysis").click()
    page.wait_for_selector("[data-testid=job-state][data-state=done]", timeout=60_000)
    assert "nothing new to store" in page.get_by_test_id("job-steps").inner_text()
    assert _get_json(server.url + "/api/experiments/homepage_aa")["analyses"] == before


def _late_exposures(project: Path, experiment_id: str) -> None:
    """New units arrive: a copy of 200 exposures under new unit ids (data keep flowing)."""
    from contextlib import closing

    import duckdb

    with closing(duckdb.connect(str(project / "warehouse.duckdb"))) as con:
        con.execute(
            "INSERT INTO exposures SELECT experiment_id, variant, unit_id || '_late', "
            "timestamp, country, platform FROM exposures WHERE experiment_id = ? "
            "ORDER BY unit_id LIMIT 200", [experiment_id])


def test_status_filter(page: Any, server: Server, web_project: Path) -> None:
    known = statuses(web_project)
    page.goto(server.url + "/")
    page.get_by_test_id("filters").get_by_role("link", name="running").click()
    page.wait_for_url("**/?status=running")
    shown = page.locator("[data-testid=experiments] tbody tr")
    running = sorted(e for e, s in known.items() if s == "running")
    assert running and sorted(shown.evaluate_all(
        "rows => rows.map(r => r.dataset.experiment)")) == running
    page.goto(server.url + "/?status=abandoned")
    assert page.locator("[data-testid=experiments] tbody").inner_text().startswith(
        "No experiment")


def test_writes_need_the_csrf_token(server: Server) -> None:
    for body in (b"decision=ship&decided_by=x&rationale=y", b"csrf_token=forged&decision=ship"):
        request = urllib.request.Request(
            server.url + "/experiments/checkout_redesign/decisions", data=body, method="POST",
            headers={"Cookie": "assay_session=abc"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=10)
        assert err.value.code == 403


def test_unknown_pages_say_so(page: Any, server: Server, guard: Any) -> None:
    guard.allowed_status.add(404)
    page.goto(server.url + "/experiments/nope")
    assert "nope" in page.get_by_test_id("error").inner_text()
    page.goto(server.url + "/metrics/nope")
    assert "nope" in page.get_by_test_id("error").inner_text()


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())
