"""Data defects get a check or code that names them, not a neighbour's misleading message:
NULL variants are not "units in several variants", NaN values are not "zero variance", ids that
join nothing and data that stops before the windows end each get their own warning."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from tests.analysis.shop import END, Shop, write_project

from assay.analysis import analyze
from assay.results import AnalysisResult, Check


def _check(result: AnalysisResult, name: str) -> Check:
    return next(c for c in result.checks if c.name == name)


def _analyze(tmp_path: Path, shop: Shop, **tables: pa.Table) -> AnalysisResult:
    changed = Shop(**{"exposures": shop.exposures, "orders": shop.orders,
                      "sessions": shop.sessions, **tables})
    return analyze(write_project(tmp_path / "p", changed), "exp")


def test_the_clean_shop_trips_none_of_them(segmented_result: AnalysisResult) -> None:
    for name in ("missing_variants", "unit_match", "data_coverage"):
        assert _check(segmented_result, name).status == "pass", _check(segmented_result, name)
    assert not any(r.error == "non_finite" for r in segmented_result.results)


def test_units_logged_without_a_variant_are_not_called_multi_variant(
    tmp_path: Path, shop: Shop, segmented_result: AnalysisResult
) -> None:
    exposures = shop.exposures
    users = exposures["user_id"].to_pylist()
    blank = {u for u in users[100:140] if u is not None}
    variant = pa.array([None if u in blank else v
                        for u, v in zip(users, exposures["variant"].to_pylist(), strict=True)],
                       pa.string())
    result = _analyze(tmp_path, shop, exposures=exposures.set_column(
        exposures.schema.get_field_index("variant"), "variant", variant))
    before = _check(segmented_result, "multiple_variants").figures["units"]
    assert _check(result, "multiple_variants").figures["units"] == before  # the shop's 10
    missing = _check(result, "missing_variants")
    assert missing.status == "warn" and missing.figures["units"] == len(blank)
    assert f"{len(blank)} units were logged without a variant" in missing.message
    assert result.units == segmented_result.units - len(blank)


def test_a_nan_value_is_non_finite_not_zero_variance(tmp_path: Path, shop: Shop) -> None:
    orders = shop.orders
    amount = orders["amount"].to_pylist()
    for i in range(0, len(amount), 50):  # some of them paid and in a unit's window
        amount[i] = float("nan")
    result = _analyze(tmp_path, shop, orders=orders.set_column(
        orders.schema.get_field_index("amount"), "amount", pa.array(amount, pa.float64())))
    revenue = [r for r in result.results if r.metric == "revenue" and r.segment is None]
    assert revenue and all(r.error == "non_finite" for r in revenue)
    assert not any(r.error == "zero_variance" for r in result.results)
    sessions = [r for r in result.results if r.metric == "session_length"]
    assert all(r.error is None for r in sessions)  # the rest of the report stands


def test_unit_ids_that_match_no_event_are_named(tmp_path: Path, shop: Shop) -> None:
    orders = shop.orders
    prefixed = pc.binary_join_element_wise("id-", orders["user_id"], "")
    result = _analyze(tmp_path, shop, orders=orders.set_column(
        orders.schema.get_field_index("user_id"), "user_id", prefixed))
    check = _check(result, "unit_match")
    assert check.status == "warn" and check.code == "unmatched_units"
    assert "`orders`" in check.message and "`sessions`" not in check.message
    assert check.figures["matched_share"]["orders"] == 0
    assert check.figures["matched_share"]["sessions"] > 0.5


def test_a_window_past_the_data_warns_with_the_dates(tmp_path: Path, shop: Shop) -> None:
    orders = shop.orders
    stop = END + dt.timedelta(days=3)  # the 14-day windows run to END + 14 days
    cut = orders.filter(pc.less(orders["created_at"], pa.scalar(stop, pa.timestamp("us"))))
    result = _analyze(tmp_path, shop, orders=cut)
    check = _check(result, "data_coverage")
    assert check.status == "warn" and check.code == "data_ends_early"
    assert "`orders` ends 2026-01-22" in check.message
    assert "the windows run to 2026-02-03 00:00" in check.message
    assert set(check.figures) == {"orders"}  # sessions (7-day windows) reach far enough


@pytest.mark.parametrize("tz", ["Pacific/Kiritimati", "America/Los_Angeles"])
def test_coverage_reads_timestamps_whatever_the_process_zone(
    tmp_path: Path, shop: Shop, tz: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        orders = shop.orders
        created = orders["created_at"].cast(pa.timestamp("us", "UTC"))
        result = _analyze(tmp_path, shop, orders=orders.set_column(
            orders.schema.get_field_index("created_at"), "created_at", created))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert _check(result, "data_coverage").status == "pass"


def test_the_scalar_and_batch_comparisons_agree_on_non_finite() -> None:
    import numpy as np

    from assay.stats.batch import ArmArrays, compare_batch
    from assay.stats.estimates import ArmEstimate
    from assay.stats.tests import compare

    cells = [(1.0, 0.1, 1.2, 0.1), (np.nan, 0.1, 1.2, 0.1), (1.0, np.inf, 1.2, 0.1),
             (1.0, 0.0, 1.0, 0.0)]
    expected = [None, "non_finite", "non_finite", "zero_variance"]
    scalar = [compare(ArmEstimate(c, cv, 100, 99), ArmEstimate(t, tv, 100, 99)).error
              for c, cv, t, tv in cells]
    a = np.array(cells).T
    none = np.full(4, None, dtype=object)
    batch = compare_batch(ArmArrays(a[0], a[1], np.full(4, 100.0), np.full(4, 99.0), none),
                          ArmArrays(a[2], a[3], np.full(4, 100.0), np.full(4, 99.0), none.copy()))
    assert scalar == list(batch.error) == expected
    assert np.isnan(batch.values["diff"][1]) and np.isnan(batch.values["p_value"][2])


@pytest.mark.parametrize(("source", "ts", "days"), [("orders", "created_at", 14),
                                                    ("sessions", "started_at", 7)])
def test_coverage_figures_match_pandas(shop: Shop, segmented_result: AnalysisResult,
                                       source: str, ts: str, days: int) -> None:
    """The coverage row of each source, recomputed from the raw rows: the share of analysed
    units with an event from the longest window before exposure to the longest window after it,
    and the fingerprint's events and latest event up to the end plus that window."""
    from tests.analysis.oracle import analysed_units

    units = analysed_units(shop, ("control", "treatment"))
    events = getattr(shop, source).to_pandas()
    joined = events.merge(units[["t0"]], left_on="user_id", right_index=True)
    horizon = dt.timedelta(days=days)
    near = joined[(joined[ts] >= joined.t0 - horizon) & (joined[ts] < joined.t0 + horizon)]
    share = near.user_id.nunique() / len(units)
    figures = _check(segmented_result, "unit_match").figures["matched_share"]
    assert figures[source] == pytest.approx(share, abs=1e-5)
    read = events[events[ts] < END + horizon]
    stored = segmented_result.fingerprint["sources"][source]
    assert stored["rows"] == len(read)
    assert dt.datetime.fromisoformat(stored["last"]) == read[ts].max().to_pydatetime()


def test_two_primary_metrics_over_one_measure_share_its_daily_breakdown(
    tmp_path: Path, shop: Shop
) -> None:
    """Two primaries that compute the same per-unit value (one measure) each get the novelty
    check's daily breakdown, read from the one set of columns the statement computes."""
    root = write_project(tmp_path / "p", shop)
    metrics = root / "metrics" / "shop.yml"
    metrics.write_text(metrics.read_text() + "  - name: revenue_again\n    source: orders\n"
                       "    value: amount\n    filter: status <> 'cancelled'\n"
                       "    window: [0d, 14d]\n", encoding="utf-8")
    spec = root / "experiments" / "exp.yml"
    spec.write_text(spec.read_text().replace("primary: [revenue]",
                                             "primary: [revenue, revenue_again]"))
    novelty = _check(analyze(root, "exp"), "novelty")
    assert {"revenue:treatment", "revenue_again:treatment"} <= set(novelty.figures)
    a, b = novelty.figures["revenue:treatment"], novelty.figures["revenue_again:treatment"]
    assert a["slope"] == pytest.approx(b["slope"], rel=1e-12)
