"""The floor: the least work any correct analysis of the benchmark experiment has to do.

DuckDB reads every column the analysis needs, with the row filters the analysis is entitled to
push into the scan (experiment id; the union of every unit's windows, ``[start - 28d, end + 14d)``),
and computes one ``GROUP BY unit`` aggregate over the events of each source (two GROUP BYs: it
was 1.4x faster than one GROUP BY over the UNION ALL of both, and the floor must be the fastest
honest version). The exposure columns are read by a plain aggregate (no grouping). The result
is reduced to one row inside DuckDB so that no unit-level rows travel to Python, as in the real
analysis.

The analysis has more to do than this (per-unit first exposure, the join to ``t0``, windows,
per-variant moments), which is why it is the floor. ``--no-time-filter`` reads every event row
instead (a weaker floor, reported for reference).

Run in a fresh process; prints one JSON line ``{"seconds", "peak_rss_mb", "rows"}``::

    .venv/bin/python benchmarks/floor.py benchmarks/data/u1000000/warehouse.duckdb
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import duckdb

FLOOR_SQL = """
WITH orders_per_unit AS (
    SELECT user_id, count(*) AS n, min(created_at) AS first_ts, sum(amount) AS amount,
           sum(refund) AS refund, count(*) FILTER (WHERE status = 'completed') AS completed
    FROM orders
    WHERE created_at >= getvariable('events_from') AND created_at < getvariable('events_to')
    GROUP BY user_id
),
sessions_per_unit AS (
    SELECT user_id, count(*) AS n, min(started_at) AS first_ts, sum(duration) AS duration,
           sum(pages) AS pages
    FROM sessions
    WHERE started_at >= getvariable('events_from') AND started_at < getvariable('events_to')
    GROUP BY user_id
),
exposure_read AS (
    SELECT count(*) AS n_rows, min("timestamp") AS first_seen, max(unit_id) AS max_unit,
           max(variant) AS max_variant
    FROM exposures
    WHERE experiment_id = 'bench'
)
SELECT o.*, s.*, e.*
FROM (SELECT count(*) AS order_units, sum(n) AS orders, min(first_ts) AS first_order,
             sum(amount) AS amount, sum(refund) AS refund, sum(completed) AS completed
      FROM orders_per_unit) AS o
CROSS JOIN (SELECT count(*) AS session_units, sum(n) AS sessions, min(first_ts) AS first_session,
                   sum(duration) AS duration, sum(pages) AS pages
            FROM sessions_per_unit) AS s
CROSS JOIN exposure_read AS e
"""

# The floor plus what every exact analysis must also do before any window or statistic: find each
# unit's first exposure inside the experiment's dates (a GROUP BY over the exposures) and attach
# it to every event (an equality join on the unit). Not a target: a lower bound for any analysis
# whose windows are exact offsets from each unit's first exposure (``--join``).
FLOOR_JOIN_SQL = """
WITH units AS (
    SELECT unit_id, epoch_us(min("timestamp")) AS t0_us
    FROM exposures
    WHERE experiment_id = 'bench'
      AND "timestamp" >= getvariable('exposed_from') AND "timestamp" < getvariable('exposed_to')
    GROUP BY unit_id
),
orders_per_unit AS (
    SELECT user_id, count(*) AS n, min(created_at) AS first_ts, sum(amount) AS amount,
           sum(refund) AS refund, count(*) FILTER (WHERE status = 'completed') AS completed,
           min(t0_us) AS t0_us
    FROM orders JOIN units ON orders.user_id = units.unit_id
    WHERE created_at >= getvariable('events_from') AND created_at < getvariable('events_to')
    GROUP BY user_id
),
sessions_per_unit AS (
    SELECT user_id, count(*) AS n, min(started_at) AS first_ts, sum(duration) AS duration,
           sum(pages) AS pages, min(t0_us) AS t0_us
    FROM sessions JOIN units ON sessions.user_id = units.unit_id
    WHERE started_at >= getvariable('events_from') AND started_at < getvariable('events_to')
    GROUP BY user_id
)
SELECT o.*, s.*
FROM (SELECT count(*) AS order_units, sum(n) AS orders, min(first_ts) AS first_order,
             sum(amount) AS amount, sum(refund) AS refund, sum(completed) AS completed,
             sum(t0_us) AS t0_us
      FROM orders_per_unit) AS o
CROSS JOIN (SELECT count(*) AS session_units, sum(n) AS sessions, min(first_ts) AS first_session,
                   sum(duration) AS duration, sum(pages) AS pages, sum(t0_us) AS t0_us
            FROM sessions_per_unit) AS s
"""

# The experiment's dates (see generate.py).
EXPOSED_FROM, EXPOSED_TO = "2026-01-05 00:00:00", "2026-01-26 00:00:00"
# The union of every unit's windows: [start - 28d, end + 14d) (see generate.py).
EVENTS_FROM = "2025-12-08 00:00:00"
EVENTS_TO = "2026-02-09 00:00:00"
NO_FILTER = ("1900-01-01 00:00:00", "2200-01-01 00:00:00")


def run_floor(db: Path, *, time_filter: bool = True, threads: int | None = None,
              memory_limit: str | None = None, join: bool = False) -> dict[str, object]:
    """Run the floor query; return seconds (connect to result), peak RSS and the result row."""
    began = time.perf_counter()
    con = duckdb.connect(str(db), read_only=True)
    if threads:
        con.execute("SET threads = $1", [threads])
    if memory_limit:
        con.execute("SET memory_limit = $1", [memory_limit])
    lo, hi = (EVENTS_FROM, EVENTS_TO) if time_filter else NO_FILTER
    con.execute("SET VARIABLE events_from = $1::TIMESTAMP", [lo])
    con.execute("SET VARIABLE events_to = $1::TIMESTAMP", [hi])
    con.execute("SET VARIABLE exposed_from = $1::TIMESTAMP", [EXPOSED_FROM])
    con.execute("SET VARIABLE exposed_to = $1::TIMESTAMP", [EXPOSED_TO])
    result = con.execute(FLOOR_JOIN_SQL if join else FLOOR_SQL)
    names = [d[0] for d in result.description or []]
    rows = [dict(zip(names, r, strict=True)) for r in result.fetchall()]
    seconds = time.perf_counter() - began
    con.close()
    return {"seconds": round(seconds, 4),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the floor query once, print JSON.")
    parser.add_argument("db", type=Path)
    parser.add_argument("--no-time-filter", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--print-sql", action="store_true")
    parser.add_argument("--join", action="store_true",
                        help="add the first-exposure dedup and join (a lower bound, not the floor)")
    args = parser.parse_args()
    if args.print_sql:
        print(FLOOR_JOIN_SQL if args.join else FLOOR_SQL)
        return
    out = run_floor(args.db, time_filter=not args.no_time_filter, threads=args.threads,
                    memory_limit=args.memory_limit, join=args.join)
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
