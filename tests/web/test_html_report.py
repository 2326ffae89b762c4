"""The HTML report of every demo experiment: self-contained, opens offline, same figures as
the JSON.

``assay demo`` writes ``reports/<id>.html`` next to the Markdown and stores each analysis; the
figures a reader sees in the report (parsed back from the page's text in Chromium) must equal
the stored JSON's to the precision shown.
"""

from __future__ import annotations

import math
import re
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from tests.web.browser import screenshot
from typer.testing import CliRunner

from assay.cli import app
from assay.spec import load_project
from assay.store import load_results

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I)

# One Chromium and one demo store: every browser test runs on the same xdist worker.
pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo_html")
    outcome = CliRunner().invoke(app, ["demo", "--out", str(out), "--users", "6000"])
    assert outcome.exit_code == 0, outcome.output
    return out


def latest_json(project: Path) -> dict[str, dict[str, Any]]:
    loaded = load_project(project)
    with closing(loaded.warehouse(read_only=True)) as wh:
        rows = load_results(wh, None, loaded.spec.results_schema)
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        latest.setdefault(str(row["experiment"]), row["result"])  # type: ignore[arg-type]
    return latest


def test_demo_writes_html_next_to_markdown(demo_reports: Path) -> None:
    experiments = load_project(demo_reports).experiments
    assert experiments
    for experiment_id in experiments:
        assert (demo_reports / "reports" / f"{experiment_id}.md").is_file()
        html = (demo_reports / "reports" / f"{experiment_id}.html").read_text()
        assert html.startswith("<!doctype html>")
        assert not EXTERNAL.findall(html), "the report references another host"
        assert "<script" not in html.lower() and "@import" not in html
        assert "url(" not in html


def test_reports_open_offline_with_the_json_figures(
    browser: Any, demo_reports: Path, screenshots: Path
) -> None:
    latest = latest_json(demo_reports)
    assert set(latest) == set(load_project(demo_reports).experiments)
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    context.route("**/*", lambda route: (outside.append(route.request.url), route.abort())
                  if not route.request.url.startswith("file://") else route.continue_())
    try:
        for experiment_id, result in latest.items():
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m, e=errors: m.type == "error" and e.append(m.text))
            page.goto((demo_reports / "reports" / f"{experiment_id}.html").as_uri())
            _compare(page, result)
            screenshot(page, screenshots, f"report_{experiment_id}")
            page.emulate_media(media="print")
            assert page.pdf()[:4] == b"%PDF"
            assert not errors, errors
            page.close()
    finally:
        context.close()
    assert not outside, f"the reports asked for {outside}"


def _compare(page: Any, result: dict[str, Any]) -> None:
    """Every figure shown in the results, arms and checks tables against the JSON."""
    assert page.get_by_test_id("title").inner_text() == (result["name"] or result["experiment"])
    for arm in result["arms"]:
        row = page.locator(f"[data-testid=arms] tr[data-variant='{arm['variant']}']")
        assert _shown(row, "units") == pytest.approx(arm["units"], abs=0.5)
        _close(row, "observed_share", arm["observed_share"])
    table = page.locator("[data-testid=results] tbody tr")
    assert table.count() == len(result["results"])
    for r in result["results"]:
        row = page.locator(f"[data-testid=results] tr[data-metric='{r['metric']}']"
                           f"[data-variant='{r['variant']}']")
        _close(row, "mean_control", r["mean_control"])
        _close(row, "mean_treatment", r["mean_treatment"])
        if r["error"] is not None:
            assert r["error"] in row.inner_text()
            continue
        _close(row, "diff", r["diff"])
        _close(row, "rel_lift", r["rel_lift"])
        _close(row, "diff_ci", r["diff_ci_adjusted"])
        _close(row, "rel_lift_ci", r["rel_lift_ci_adjusted"])
        _close(row, "p_value", r["p_value"])
        _close(row, "p_value_adjusted", r["p_value_adjusted"])
    for check in result["checks"]:
        row = page.locator(f"[data-testid=checks] tr[data-check='{check['name']}']")
        assert row.get_attribute("data-status") == check["status"]
        assert check["message"] in row.inner_text()
    segments = page.locator("details.segment tbody tr")
    assert segments.count() == len(result["segments"])


def _shown(row: Any, field: str) -> float:
    return _figures(row.locator(f"[data-field={field}]").inner_text())[0][0]


def _close(row: Any, field: str, expected: Any) -> None:
    """The shown figure(s) equal ``expected`` to within half a unit of the last digit shown."""
    text = row.locator(f"[data-field={field}]").inner_text()
    wanted = expected if isinstance(expected, list) else [expected]
    shown = _figures(text)
    assert len(shown) == len(wanted), (field, text, expected)
    for (value, tolerance), truth in zip(shown, wanted, strict=True):
        if truth is None or (isinstance(truth, float) and not math.isfinite(truth)):
            assert math.isnan(value), (field, text, expected)
        elif tolerance == math.inf:  # "<0.0001"
            assert truth < value, (field, text, expected)
        else:
            assert abs(value - truth) <= tolerance * 1.0001, (field, text, expected)


_NUMBER = re.compile(r"(<)?([+\-−]?)([\d,]*\.?\d+)(?:e([+\-]?\d+))?(%)?|—")


def _figures(text: str) -> list[tuple[float, float]]:
    """(value, tolerance) of each number in a cell, read as a person would read it."""
    out = []
    for match in _NUMBER.finditer(text):
        if match.group(0) == "—":
            out.append((math.nan, 0.0))
            continue
        below, sign, digits, exponent, percent = match.groups()
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        scale = 10.0 ** int(exponent or 0) / (100.0 if percent else 1.0)
        value = float(digits.replace(",", "")) * scale * (-1 if sign in "-−" and sign else 1)
        out.append((value, math.inf if below else 0.5 * 10.0**-decimals * scale))
    return out


def test_analyze_format_html_shows_the_stored_record(demo_reports: Path) -> None:
    """``assay analyze --format html`` after ``assay decide``: the record is in the report."""
    runner = CliRunner()
    project = str(demo_reports)
    decided = runner.invoke(app, [
        "decide", "homepage_aa", "no-decision", "--by", "Ada <i>L</i>",
        "--why", "A/A as expected <script>x</script>", "--project", project, "--override"])
    assert decided.exit_code == 0, decided.output
    out = demo_reports / "homepage_aa_report.html"
    outcome = runner.invoke(app, ["analyze", "homepage_aa", "--format", "html", "--out",
                                  str(out), "--project", project, "--fail-on", "never"])
    assert outcome.exit_code == 0, outcome.output
    html = out.read_text()
    assert "Ada &lt;i&gt;L&lt;/i&gt;" in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert 'data-testid="decisions"' in html and "b-decided" in html
    assert not EXTERNAL.findall(html) and "<script" not in html
