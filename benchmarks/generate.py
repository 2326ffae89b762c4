"""Seeded generator of the benchmark warehouse and its assay project.

Everything is generated inside DuckDB with hash-derived pseudo-random numbers, so the same
``--seed`` and ``--units`` give the same tables on any machine, and 100M event rows take minutes.

Tables (in ``<out>/warehouse.duckdb``):

* ``users(user_id, country, platform)``: one row per unit.
* ``exposures(experiment_id, variant, unit_id, timestamp)``: one first exposure per unit of the
  experiment ``bench`` inside ``[start, end)``, plus the mess real logs carry: ~1.5% repeated
  exposures, a few hundred units exposed to both variants, ~0.1% stray exposures before the start,
  ~0.05% units first exposed after the end, and ~10% rows of another experiment.
* ``orders(user_id, created_at, amount, refund, status)``: ~3 per unit over 70 days (35 days of
  history before the start), heavy-tailed activity (lognormal rate) and amounts (lognormal with a
  Pareto tail).
* ``sessions(user_id, started_at, duration, pages)``: ~7 per unit over the same span.
* ``truth``: the true treatment effects built in.

Both event tables are stored in time order, as an append-only event log is.

The project files written next to the data (``assay_project.yml``, ``metrics/*.yml``,
``experiments/bench.yml``) define the 10 benchmark metrics; :data:`EXPERIMENT` holds the dates.

Usage::

    .venv/bin/python benchmarks/generate.py --units 1_000_000
    .venv/bin/python benchmarks/generate.py --units 10_000_000 --out benchmarks/data/u10m
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import duckdb
import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"

START = dt.datetime(2026, 1, 5)
END_DATE = dt.date(2026, 1, 25)  # inclusive in the spec: exposures end before 2026-01-26 00:00
END = dt.datetime(2026, 1, 26)
HISTORY_START = START - dt.timedelta(days=35)
HISTORY_END = END + dt.timedelta(days=14)

EXPERIMENT: dict[str, Any] = {
    "id": "bench",
    "start": START,
    "end": END,
    "window_days": 14,
    "pre_days": 28,
}

TRUTH = {
    "order_amount_lift": 0.03,
    "control_post_order_drop": 0.04,
    "session_duration_lift": 0.02,
    "control_post_session_drop": 0.02,
}

# Uniform(0, 1) from 53 bits of a seeded hash; Box-Muller standard normal from two of them.
# DuckDB's multi-argument hash combines argument hashes linearly, so streams that differ only in
# one argument would be correlated; the outer single-value hash mixes them into independence.
_MACROS = [
    """CREATE OR REPLACE TEMP MACRO unif(a, b, c) AS
         ((hash(xor(hash(getvariable('seed'), a), hash(b, c))) >> 11)::DOUBLE + 0.5)
         / 9007199254740992.0""",
    """CREATE OR REPLACE TEMP MACRO gauss(a, b, c) AS
         sqrt(-2 * ln(unif(a, b, c))) * cos(2 * pi() * unif(a, b, c + 1000))""",
    """CREATE OR REPLACE TEMP MACRO at_fraction(lo, hi, f) AS
         lo + to_microseconds((f * (epoch_us(hi) - epoch_us(lo)))::BIGINT)""",
]

_LATENT = """
CREATE OR REPLACE TEMP TABLE latent AS
SELECT
    i AS user_id,
    CASE WHEN unif(i, 0, 1) < 0.5 THEN 'control' ELSE 'treatment' END AS variant,
    CASE WHEN unif(i, 0, 2) < 0.0005
         THEN at_fraction(getvariable('end_ts'), getvariable('end_ts') + INTERVAL 5 DAY,
                          unif(i, 0, 3))
         ELSE at_fraction(getvariable('start_ts'), getvariable('end_ts'), unif(i, 0, 3))
    END AS t0,
    floor(3 * exp(1.0 * gauss(i, 0, 4) - 0.5) + unif(i, 0, 5))::INTEGER AS n_orders,
    floor(7 * exp(0.8 * gauss(i, 0, 6) - 0.32) + unif(i, 0, 7))::INTEGER AS n_sessions,
    3.5 + 0.5 * gauss(i, 0, 8) AS spend_level
FROM range(getvariable('n_units')) AS r(i)
"""

_USERS = """
CREATE OR REPLACE TABLE users AS
SELECT
    user_id,
    ['US', 'GB', 'DE', 'FR', 'BR', 'IN'][1 + (hash(getvariable('seed'), user_id, 9) % 6)::INTEGER]
        AS country,
    ['ios', 'android', 'web'][1 + (hash(getvariable('seed'), user_id, 10) % 3)::INTEGER]
        AS platform
FROM latent
"""

_EXPOSURES = """
CREATE OR REPLACE TABLE exposures AS
WITH base AS (
    SELECT 'bench' AS experiment_id, variant, user_id AS unit_id, t0 AS "timestamp" FROM latent
),
repeats AS (
    SELECT 'bench', variant, user_id, t0 + to_microseconds((unif(user_id, 1, 2) * 2.6e11)::BIGINT)
    FROM latent WHERE unif(user_id, 1, 1) < 0.015
),
both_arms AS (
    SELECT 'bench', CASE variant WHEN 'control' THEN 'treatment' ELSE 'control' END, user_id,
           t0 + to_microseconds((unif(user_id, 1, 4) * 1.7e11)::BIGINT)
    FROM latent WHERE unif(user_id, 1, 3) < 300.0 / getvariable('n_units')
),
before_start AS (
    SELECT 'bench', variant, user_id,
           getvariable('start_ts') - to_microseconds((unif(user_id, 1, 6) * 2.6e11)::BIGINT)
    FROM latent WHERE unif(user_id, 1, 5) < 0.001
),
other_experiment AS (
    SELECT 'checkout_v2', CASE WHEN unif(user_id, 1, 8) < 0.5 THEN 'a' ELSE 'b' END, user_id,
           at_fraction(getvariable('start_ts'), getvariable('end_ts'), unif(user_id, 1, 9))
    FROM latent WHERE unif(user_id, 1, 7) < 0.1
)
SELECT * FROM (
    SELECT * FROM base UNION ALL SELECT * FROM repeats UNION ALL SELECT * FROM both_arms
    UNION ALL SELECT * FROM before_start UNION ALL SELECT * FROM other_experiment
) ORDER BY "timestamp"
"""

_ORDERS = """
CREATE OR REPLACE TABLE orders AS
WITH raw AS (
    SELECT l.user_id, l.variant, l.t0, l.spend_level, r.j,
           at_fraction(getvariable('history_start'), getvariable('history_end'),
                       unif(l.user_id, 100 + r.j, 1)) AS created_at
    FROM latent AS l, range(l.n_orders) AS r(j)
),
priced AS (
    SELECT user_id, created_at,
           exp(spend_level + 0.8 * gauss(user_id, 100 + j, 2))
             * CASE WHEN unif(user_id, 100 + j, 3) < 0.01
                    THEN pow(unif(user_id, 100 + j, 4), -1 / 1.5) ELSE 1 END
             * CASE WHEN variant = 'treatment' AND created_at >= t0
                    THEN 1 + getvariable('amount_lift') ELSE 1 END AS raw_amount,
           CASE WHEN unif(user_id, 100 + j, 5) < 0.90 THEN 'completed'
                WHEN unif(user_id, 100 + j, 5) < 0.97 THEN 'cancelled'
                ELSE 'pending' END AS status,
           unif(user_id, 100 + j, 6) AS u_refund,
           unif(user_id, 100 + j, 7) AS u_keep,
           variant = 'control' AND created_at >= t0 AS control_post
    FROM raw
)
SELECT user_id, created_at, round(raw_amount, 2)::DOUBLE AS amount,
       CASE WHEN status = 'completed' AND u_refund < 0.05
            THEN round(raw_amount * u_refund / 0.05, 2) ELSE 0 END::DOUBLE AS refund,
       status
FROM priced
WHERE NOT (control_post AND u_keep < getvariable('order_drop'))
ORDER BY created_at
"""

_SESSIONS = """
CREATE OR REPLACE TABLE sessions AS
WITH raw AS (
    SELECT l.user_id, l.variant, l.t0, r.j,
           at_fraction(getvariable('history_start'), getvariable('history_end'),
                       unif(l.user_id, 100000 + r.j, 1)) AS started_at
    FROM latent AS l, range(l.n_sessions) AS r(j)
)
SELECT user_id, started_at,
       round(exp(5 + gauss(user_id, 100000 + j, 2))
             * CASE WHEN variant = 'treatment' AND started_at >= t0
                    THEN 1 + getvariable('duration_lift') ELSE 1 END, 1)::DOUBLE AS duration,
       (1 + floor(exp(0.8 + 0.7 * gauss(user_id, 100000 + j, 4))))::INTEGER AS pages
FROM raw
WHERE NOT (variant = 'control' AND started_at >= t0
           AND unif(user_id, 100000 + j, 5) < getvariable('session_drop'))
ORDER BY started_at
"""

_TRUTH = """
CREATE OR REPLACE TABLE truth AS
SELECT getvariable('amount_lift') AS order_amount_lift,
       getvariable('order_drop') AS control_post_order_drop,
       getvariable('duration_lift') AS session_duration_lift,
       getvariable('session_drop') AS control_post_session_drop,
       getvariable('seed') AS seed, getvariable('n_units') AS n_units
"""


def generate(out: Path, units: int, seed: int, memory_limit: str,
             threads: int | None) -> dict[str, Any]:
    """Build ``out/warehouse.duckdb`` and the project files; return sizes and timings."""
    out.mkdir(parents=True, exist_ok=True)
    db = out / "warehouse.duckdb"
    for stale in (db, out / "warehouse.duckdb.wal"):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute("SET memory_limit = $1", [memory_limit])
    con.execute("SET temp_directory = $1", [str(out / "tmp")])
    con.execute("SET preserve_insertion_order = true")
    if threads:
        con.execute("SET threads = $1", [threads])
    settings = {
        "seed": seed, "n_units": units, "start_ts": START, "end_ts": END,
        "history_start": HISTORY_START, "history_end": HISTORY_END,
        "amount_lift": TRUTH["order_amount_lift"], "order_drop": TRUTH["control_post_order_drop"],
        "duration_lift": TRUTH["session_duration_lift"],
        "session_drop": TRUTH["control_post_session_drop"],
    }
    for name, value in settings.items():
        con.execute(f"SET VARIABLE {name} = $1", [value])
    timings: dict[str, float] = {}
    for macro in _MACROS:
        con.execute(macro)
    for name, sql in (("latent", _LATENT), ("users", _USERS), ("exposures", _EXPOSURES),
                      ("orders", _ORDERS), ("sessions", _SESSIONS), ("truth", _TRUTH)):
        began = time.perf_counter()
        con.execute(sql)
        timings[name] = round(time.perf_counter() - began, 2)
        print(f"  {name:<10} {timings[name]:8.2f} s", flush=True)
    con.execute("DROP TABLE latent")
    con.execute("CHECKPOINT")
    sizes = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
             for t in ("users", "exposures", "orders", "sessions")}
    con.close()
    write_project(out)
    info = {"units": units, "seed": seed, "rows": sizes, "seconds": timings,
            "total_seconds": round(sum(timings.values()), 2),
            "file_bytes": db.stat().st_size}
    (out / "generated.json").write_text(json.dumps(info, indent=2))
    return info


def metric_specs() -> list[dict[str, Any]]:
    """The 10 benchmark metrics: 6 over orders (one a ratio), 4 over sessions."""
    window = ["0d", "14d"]
    pre = ["-28d", "0d"]
    completed = "status = 'completed'"

    def mean(name: str, source: str, value: str | None, **extra: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": name, "source": source}
        if value is not None:
            spec["value"] = value
        spec.update(extra)
        spec.update({"window": list(window), "pre_window": list(pre)})
        return spec

    return [
        mean("revenue", "orders", "amount", filter=completed),
        mean("orders", "orders", None, filter=completed, aggregation="count"),
        mean("conversion", "orders", None, kind="proportion", filter=completed),
        mean("refund_amount", "orders", "refund", filter="refund > 0", higher_is_better=False),
        mean("revenue_capped", "orders", "amount", filter=completed, capping={"max": 1000}),
        {"name": "aov", "kind": "ratio", "numerator": "revenue", "denominator": "orders"},
        mean("sessions", "sessions", None, aggregation="count"),
        mean("session_duration", "sessions", "duration"),
        mean("pages", "sessions", "pages"),
        mean("engaged", "sessions", None, kind="proportion", filter="pages >= 10"),
    ]


def write_project(out: Path) -> None:
    """Write ``assay_project.yml``, ``metrics/bench.yml`` and ``experiments/bench.yml``."""
    project = {
        "name": "assay-bench",
        "warehouse": "duckdb:///warehouse.duckdb",
        "exposures": {"table": "exposures", "experiment_id": "experiment_id",
                      "variant": "variant", "unit_id": "unit_id", "timestamp": "timestamp"},
        "sources": {
            "orders": {"table": "orders", "unit": "user_id", "timestamp": "created_at"},
            "sessions": {"table": "sessions", "unit": "user_id", "timestamp": "started_at"},
        },
    }
    experiment = {
        "name": "Benchmark experiment",
        "variants": [{"name": "control", "weight": 0.5, "control": True},
                     {"name": "treatment", "weight": 0.5}],
        "start": START.date(),
        "end": END_DATE,
        "metrics": {"primary": ["revenue"],
                    "secondary": ["orders", "conversion", "aov", "revenue_capped", "sessions",
                                  "session_duration", "pages", "engaged"],
                    "guardrails": ["refund_amount"]},
        "cuped": True,
    }
    (out / "metrics").mkdir(exist_ok=True)
    (out / "experiments").mkdir(exist_ok=True)
    _dump(out / "assay_project.yml", project)
    _dump(out / "metrics" / "bench.yml", {"metrics": metric_specs()})
    _dump(out / "experiments" / "bench.yml", experiment)


def _dump(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None))


def default_out(units: int) -> Path:
    """``benchmarks/data/u<units>``: one directory per size."""
    return DATA_DIR / f"u{units}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--seed", type=int, default=20260105)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--memory-limit", default="16GB")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    out = args.out or default_out(args.units)
    print(f"generating {args.units:,} units into {out}", flush=True)
    info = generate(out, args.units, args.seed, args.memory_limit, args.threads)
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
