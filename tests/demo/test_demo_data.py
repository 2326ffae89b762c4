"""The generated tables hold what the demo claims, checked with SQL on the tables themselves."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from assay.demo import DemoInfo, build_demo, template_experiments
from assay.demo.exposures import PLANS

SPECS = template_experiments()
# Six weeks before the earliest start (homepage_aa, 2026-02-23) and 14 days after the latest end
# (search_ranking_3arm, through 2026-03-17).
HISTORY_START = dt.datetime(2026, 1, 12)
DATA_END = dt.datetime(2026, 4, 1)

COLUMNS = {
    "users": {"user_id": "VARCHAR", "signup_at": "TIMESTAMP", "country": "VARCHAR",
              "platform": "VARCHAR", "channel": "VARCHAR"},
    "sessions": {"session_id": "BIGINT", "user_id": "VARCHAR", "started_at": "TIMESTAMP",
                 "duration_s": "DOUBLE", "pages": "INTEGER"},
    "orders": {"order_id": "BIGINT", "user_id": "VARCHAR", "created_at": "TIMESTAMP",
               "amount": "DOUBLE", "currency": "VARCHAR", "refunded": "BOOLEAN",
               "refund_amount": "DOUBLE", "status": "VARCHAR"},
    "exposures": {"experiment_id": "VARCHAR", "variant": "VARCHAR", "unit_id": "VARCHAR",
                  "timestamp": "TIMESTAMP", "country": "VARCHAR", "platform": "VARCHAR"},
}


def first_arms(con: duckdb.DuckDBPyConnection, experiment_id: str) -> dict[str, int]:
    """Units per arm, each unit counted once in the arm of its first in-window exposure."""
    spec = SPECS[experiment_id]
    rows = con.execute(
        """
        select variant, count(*) from (
            select unit_id, arg_min(variant, "timestamp") as variant from exposures
            where experiment_id = ? and "timestamp" >= ? and "timestamp" < ?
            group by unit_id)
        group by variant
        """, [experiment_id, spec.start_at(), spec.end_at()]).fetchall()
    return dict(rows)


def test_tables_have_the_documented_columns(con: duckdb.DuckDBPyConnection) -> None:
    for table, expected in COLUMNS.items():
        described = {row[0]: row[1] for row in con.execute(f'describe "{table}"').fetchall()}
        assert described == expected, table


def test_row_counts_match_the_info(demo: DemoInfo, con: duckdb.DuckDBPyConnection) -> None:
    for table, count in demo.tables.items():
        assert con.execute(f'select count(*) from "{table}"').fetchone() == (count,)
    assert demo.tables["users"] == demo.users
    assert demo.warehouse == demo.out_dir / "warehouse.duckdb"


def test_every_event_belongs_to_a_user_after_signup(con: duckdb.DuckDBPyConnection) -> None:
    for table, unit, at in (("orders", "user_id", "created_at"),
                            ("sessions", "user_id", "started_at"),
                            ("exposures", "unit_id", "timestamp")):
        orphans, early = con.execute(
            f'select count(*) filter (where u.user_id is null), '
            f'count(*) filter (where t."{at}" < u.signup_at) '
            f'from "{table}" t left join users u on u.user_id = t."{unit}"').fetchone()
        assert (orphans, early) == (0, 0), table


def test_ids_include_non_ascii_and_one_very_long(con: duckdb.DuckDBPyConnection) -> None:
    accented, chinese, longest, unique = con.execute(
        "select count(*) filter (where user_id like 'usér\\_%' escape '\\'), "
        "count(*) filter (where user_id like '用户\\_%' escape '\\'), "
        "max(length(user_id)), count(distinct user_id) = count(*) from users").fetchone()
    assert accented == 6 and chinese == 6  # one in every 1000 ids each, 6000 users
    assert longest == 300 and unique
    exposed = con.execute(
        "select count(distinct unit_id) from exposures where length(unit_id) = 300 "
        "or unit_id like 'usér%' or unit_id like '用户%'").fetchone()
    assert exposed is not None and exposed[0] > 5


def test_orders_have_null_amounts_and_consistent_refunds(con: duckdb.DuckDBPyConnection) -> None:
    n, null_amount, refunded, bad = con.execute(
        """
        select count(*), count(*) filter (where amount is null),
               count(*) filter (where refunded),
               count(*) filter (where
                   (refunded and not (refund_amount > 0 and refund_amount <= amount))
                   or (not refunded and refund_amount is not null)
                   or (amount is null and status <> 'pending')
                   or (refunded and status not in ('refunded', 'partially_refunded'))
                   or (amount <= 0))
        from orders
        """).fetchone()
    assert bad == 0
    assert null_amount > 0
    # Shares the generator draws: 0.4% NULL amounts, 6% of the rest refunded (5-sigma bands).
    assert abs(null_amount / n - 0.004) < 5 * np.sqrt(0.004 * 0.996 / n)
    assert abs(refunded / (n - null_amount) - 0.06) < 5 * np.sqrt(0.06 * 0.94 / n)


def test_amounts_are_heavy_tailed(con: duckdb.DuckDBPyConnection) -> None:
    amounts = con.execute("select amount from orders where amount is not null").fetchnumpy()
    values = amounts["amount"]
    assert stats.skew(values) > 3
    assert np.quantile(values, 0.999) > 10 * np.median(values)


def test_history_covers_the_pre_period_and_the_windows(con: duckdb.DuckDBPyConnection) -> None:
    for table, at in (("orders", "created_at"), ("sessions", "started_at")):
        first, last = con.execute(f'select min("{at}"), max("{at}") from "{table}"').fetchone()
        assert HISTORY_START <= first < HISTORY_START + dt.timedelta(hours=6), table
        assert DATA_END - dt.timedelta(hours=6) < last < DATA_END, table


@pytest.mark.parametrize("experiment_id", ["checkout_redesign", "homepage_aa",
                                           "search_ranking_3arm"])
def test_logged_shares_match_the_intended_ones(demo: DemoInfo, con: duckdb.DuckDBPyConnection,
                                               experiment_id: str) -> None:
    truth = demo.experiments[experiment_id]
    counts = first_arms(con, experiment_id)
    assert counts == dict(truth.logged_units)
    observed = [counts[v] for v in truth.variants]
    expected = [sum(observed) * truth.intended_shares[v] for v in truth.variants]
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    assert truth.logged_shares == truth.intended_shares
    assert abs(sum(observed) / demo.users - SPECS[experiment_id].traffic) < 0.03


def test_srm_experiment_logs_48_52_because_android_control_is_dropped(
        demo: DemoInfo, con: duckdb.DuckDBPyConnection) -> None:
    truth = demo.experiments["pricing_banner_srm"]
    counts = first_arms(con, "pricing_banner_srm")
    n = counts["control"] + counts["treatment"]
    assert abs(counts["control"] / n - 0.48) <= 1 / n
    assert truth.logged_shares == {"control": 0.48, "treatment": 0.52}
    assert truth.intended_shares == {"control": 0.5, "treatment": 0.5}
    # Off Android nothing was dropped: that part of the log is still a fair 50/50 split.
    rows = dict(con.execute(
        "select variant || ':' || (platform = 'android')::varchar, count(*) from exposures "
        "where experiment_id = 'pricing_banner_srm' group by all").fetchall())
    assert stats.binomtest(rows["control:false"], rows["control:false"] + rows["treatment:false"],
                           0.5).pvalue > 1e-3
    assert rows["control:true"] < 0.85 * rows["treatment:true"]


def test_injected_exposure_anomalies(demo: DemoInfo, con: duckdb.DuckDBPyConnection) -> None:
    for experiment_id, plan in PLANS.items():
        spec, truth = SPECS[experiment_id], demo.experiments[experiment_id]
        duplicates, multi, outside = con.execute(
            """
            select
              (select coalesce(sum(c - 1), 0) from (
                 select count(*) c from exposures where experiment_id = $1
                 group by experiment_id, variant, unit_id, "timestamp", country, platform
                 having count(*) > 1)),
              (select count(*) from (
                 select unit_id from exposures where experiment_id = $1
                 group by unit_id having count(distinct variant) > 1)),
              (select count(*) from exposures where experiment_id = $1
                 and ("timestamp" < $2 or "timestamp" >= $3))
            """, [experiment_id, spec.start_at(), spec.end_at()]).fetchone()
        assert (duplicates, multi, outside) == (
            plan.duplicate_rows, plan.multi_variant_units, plan.out_of_window_rows), experiment_id
        assert (truth.duplicate_rows, truth.multi_variant_units, truth.out_of_window_rows) == (
            duplicates, multi, outside)


def test_pre_period_predicts_the_outcome(con: duckdb.DuckDBPyConnection) -> None:
    # CUPED needs a strong covariate: a user's 28 days before exposure predict the 14 after.
    data = con.execute(
        """
        with e as (select unit_id, min("timestamp") t0 from exposures
                   where experiment_id = 'checkout_redesign' group by unit_id)
        select
          coalesce(sum(amount) filter (where created_at >= t0
                                       and created_at < t0 + interval 14 day), 0) y,
          coalesce(sum(amount) filter (where created_at >= t0 - interval 28 day
                                       and created_at < t0), 0) x
        from e left join orders o on o.user_id = e.unit_id group by e.unit_id
        """).fetchnumpy()
    assert np.corrcoef(data["y"], data["x"])[0, 1] > 0.5


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path) -> None:
    first = build_demo(tmp_path / "a", seed=3, users=1000)
    again = build_demo(tmp_path / "b", seed=3, users=1000)
    other = build_demo(tmp_path / "c", seed=4, users=1000)
    assert first.experiments == again.experiments and first.tables == again.tables
    assert first.experiments != other.experiments
    for table in COLUMNS:
        a, b, c = (_table(info, table) for info in (first, again, other))
        assert a.equals(b), table
        assert not a.equals(c), table


def test_refuses_a_tiny_population(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1000 users"):
        build_demo(tmp_path, users=10)


def _table(info: DemoInfo, table: str) -> pa.Table:
    with duckdb.connect(str(info.warehouse), read_only=True) as connection:
        return connection.sql(f'select * from "{table}"').to_arrow_table()
