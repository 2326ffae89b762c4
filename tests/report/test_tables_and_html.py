"""Results as Arrow/pandas tables, the stored-JSON round trip, and the HTML renderers."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape as html_escape

from assay.report import charts
from assay.report.html import render_html, render_notebook
from assay.results import AnalysisResult, Check
from assay.results.decode import result_from_dict
from assay.results.tables import PARTS
from assay.web.csrf import Csrf


def test_tables_hold_every_field_of_every_item(demo_results: dict[str, AnalysisResult]) -> None:
    for result in demo_results.values():
        data = result.to_dict()
        for part in PARTS:
            table = result.to_arrow(part)
            assert table.num_rows == len(data[part])
            for row, item in zip(table.to_pylist(), data[part], strict=True):
                assert row["experiment"] == result.experiment
                for key, value in item.items():
                    if isinstance(value, dict):  # figures, arm_figures: JSON text
                        assert json.loads(row[key]) == json.loads(json.dumps(value))
                    elif isinstance(value, list) or (value is None and f"{key}_low" in row):
                        low, high = value or (None, None)
                        assert _same(row[f"{key}_low"], low) and _same(row[f"{key}_high"], high)
                    else:
                        assert _same(row[key], value), (part, key)


def test_pandas_frames_match_arrow(demo_results: dict[str, AnalysisResult]) -> None:
    result = demo_results["search_ranking_3arm"]
    frame = result.to_pandas()
    assert list(frame.columns) == result.to_arrow().column_names
    assert len(frame) == len(result.results) and set(frame["variant"]) == {"ranker_b", "ranker_c"}
    assert result.to_pandas("checks")["status"].tolist() == [c.status for c in result.checks]


def test_empty_parts_keep_their_columns(demo_results: dict[str, AnalysisResult]) -> None:
    result = dataclasses.replace(demo_results["homepage_aa"], rank_tests=[], checks=[])
    assert result.to_arrow("rank_tests").num_rows == 0
    assert "auc" in result.to_arrow("rank_tests").column_names
    with pytest.raises(ValueError, match="unknown part"):
        result.to_arrow("nope")  # type: ignore[arg-type]


def test_stored_json_rebuilds_the_same_result(demo_results: dict[str, AnalysisResult]) -> None:
    for result in demo_results.values():
        data = json.loads(json.dumps(result.to_dict()))
        rebuilt = result_from_dict(data)
        assert rebuilt.to_dict() == result.to_dict()
        assert render_html(rebuilt) == render_html(result)


def test_report_escapes_every_user_string(demo_results: dict[str, AnalysisResult]) -> None:
    evil = "<script>alert(1)</script>"
    base = demo_results["checkout_redesign"]
    result = dataclasses.replace(
        base, name=evil, hypothesis=evil,
        results=[dataclasses.replace(r, variant=evil, metric=evil) for r in base.results],
        checks=[Check(evil, "warn", evil, {"action": evil})],
        sql={evil: evil},
    )
    for html in (render_html(result), render_notebook(result)):
        assert "<script" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_check_shows_its_own_remedy(demo_results: dict[str, AnalysisResult]) -> None:
    result = demo_results["recs_carousel"]
    tripped = [c for c in result.checks if c.status != "pass" and c.remedy]
    assert len(tripped) >= 5  # the demo experiment built to trip the pitfall checks
    html = render_html(result)
    for c in tripped:
        row = re.search(rf'<tr data-check="{c.name}".*?</tr>', html, re.S)
        assert row is not None, c.name
        assert str(html_escape(c.remedy)) in row.group(0), c.name


def test_report_is_self_contained(demo_results: dict[str, AnalysisResult]) -> None:
    for result in demo_results.values():
        html = render_html(result)
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)
        assert "<script" not in html and "url(" not in html


@given(
    point=st.floats(-5, 5), low=st.floats(-5, 5), high=st.floats(-5, 5),
    label=st.text(max_size=40),
)
def test_ci_bar_draws_inside_its_box(point: float, low: float, high: float, label: str) -> None:
    scale = charts.symmetric_scale([(low, high), (point, point)], 160)
    svg = str(charts.ci_bar(point, (min(low, high), max(low, high)), scale, "neutral", label))
    assert "<script" not in svg
    xs = [float(v) for v in re.findall(r' (?:x1|x2|cx)="([-\d.]+)"', svg)]
    assert all(-0.1 <= x <= 160.1 for x in xs)


def test_lift_chart_has_a_point_per_look() -> None:
    points = [charts.Point(f"day {i}", 0.01 * i, 0.01 * i - 0.02, 0.01 * i + 0.02)
              for i in range(5)]
    svg = str(charts.lift_over_time(points, "lift"))
    assert svg.count("<circle") == 5 and "<polygon" in svg
    assert str(charts.lift_over_time([], "nothing")).startswith("<svg")


def test_csrf_tokens_bind_session_and_origin() -> None:
    csrf = Csrf(b"k" * 32)
    token = csrf.token("s1")
    own = "http://127.0.0.1:8000"
    assert csrf.valid("s1", token, None, own) and csrf.valid("s1", token, own, own)
    assert not csrf.valid("s2", token, None, own)
    assert not csrf.valid("s1", token, "http://evil.example", own)
    assert not csrf.valid(None, token, None, own) and not csrf.valid("s1", None, None, own)
    assert Csrf().token("s1") != token


def _same(a: object, b: object) -> bool:
    """Equal, where the JSON form's null stands for NaN or an infinity (to_dict cleans both)."""
    def missing(v: object) -> bool:
        return v is None or (isinstance(v, float) and not math.isfinite(v))

    if missing(a) or missing(b):
        return missing(a) and missing(b)
    return a == b


@given(low=st.floats(-1e6, 1e6), span=st.floats(0, 1e6))
def test_nice_ticks_cover_the_range(low: float, span: float) -> None:
    ticks = charts.nice_ticks(low, low + span)
    assert ticks[0] <= low + 1e-9 * max(1.0, abs(low))
    assert ticks[-1] >= low + span - 1e-9 * max(1.0, abs(low + span))
    assert 2 <= len(ticks) <= 12
    steps = [b - a for a, b in itertools.pairwise(ticks)]
    assert all(s == pytest.approx(steps[0], rel=1e-6) for s in steps)


def test_the_plan_panel_writes_values_as_the_spec_does() -> None:
    from assay.report.page import plan_pairs

    pairs = dict(plan_pairs({"cuped": True, "traffic": 0.8, "segments": ["platform", "country"],
                             "variants": [{"name": "control", "weight": 50, "control": True}]}))
    assert pairs == {"cuped": "true", "traffic": "0.8", "segments": "platform, country",
                     "variants": "control (50, control)"}
