"""What the activity kinds cost in DuckDB: a funnel, retention and participation next to the
proportions over the same events.

    .venv/bin/python benchmarks/bench_activity.py --units 200_000 --generate
    farm-bench -n 5 --timeout 600 \\
        --vs '.venv/bin/python benchmarks/bench_activity.py --experiment proportions' \\
        -- .venv/bin/python benchmarks/bench_activity.py --experiment funnel

``--generate`` writes ``benchmarks/data/activity_u<units>/`` (a DuckDB file with exposures and
about 8 events per unit, seeded, and a project); without it the command analyses one
experiment there: ``funnel`` (3 ordered steps: 5 comparisons), ``proportions`` (the same 3
steps as unordered proportions: the baseline), ``retention`` ([1d, 8d)), ``participation``
([0d, 14d), 14 day slots).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = ("view", "cart", "purchase")
METRICS = """\
metrics:
  - name: checkout
    kind: funnel
    source: events
    window: [0d, 7d]
    steps:
      - {name: view, filter: "event = 'view'"}
      - {name: cart, filter: "event = 'cart'"}
      - {name: purchase, filter: "event = 'purchase'"}
  - {name: viewed, kind: proportion, source: events, filter: "event = 'view'", window: [0d, 7d]}
  - {name: carted, kind: proportion, source: events, filter: "event = 'cart'", window: [0d, 7d]}
  - {name: bought, kind: proportion, source: events, filter: "event = 'purchase'",
     window: [0d, 7d]}
  - {name: returned, kind: retention, source: events, window: [1d, 8d]}
  - {name: active_days, kind: participation, source: events, window: [0d, 14d]}
"""
EXPERIMENTS = {
    "funnel": ["checkout"],
    "proportions": ["viewed", "carted", "bought"],
    "retention": ["returned"],
    "participation": ["active_days"],
}
GENERATE = """
CREATE OR REPLACE TABLE units AS
SELECT 'u' || i AS unit_id,
       CASE WHEN hash(i, 1) % 2 = 0 THEN 'control' ELSE 'treatment' END AS variant,
       TIMESTAMP '2026-01-05' + to_microseconds(CAST(hash(i, 2) % 1209600000000 AS BIGINT))
         AS "timestamp"
FROM range(?) t(i);
CREATE OR REPLACE TABLE exposures AS
SELECT x.experiment_id, u.* FROM units u,
  (VALUES ('funnel'), ('proportions'), ('retention'), ('participation')) x(experiment_id);
CREATE OR REPLACE TABLE events AS
SELECT e.unit_id,
       e."timestamp" + to_microseconds(CAST(hash(e.unit_id, k, 3) % 1814400000000 AS BIGINT))
         - INTERVAL 2 DAY AS ts,
       CASE hash(e.unit_id, k, 4) % 4 WHEN 0 THEN 'view' WHEN 1 THEN 'cart'
            WHEN 2 THEN 'purchase' ELSE 'visit' END AS event
FROM units e, range(8) r(k)
WHERE hash(e.unit_id, k, 5) % 10 < 7 + (e.variant = 'treatment')::INT;
"""


def _generate(folder: Path, units: int) -> None:
    import duckdb

    (folder / "metrics").mkdir(parents=True, exist_ok=True)
    (folder / "experiments").mkdir(exist_ok=True)
    with duckdb.connect(str(folder / "warehouse.duckdb")) as con:
        for statement in filter(str.strip, GENERATE.split(";")):
            con.execute(statement, [units] if "range(?)" in statement else [])
    (folder / "assay_project.yml").write_text(
        "name: activity_bench\nexposures: {table: exposures}\n"
        "sources:\n  events: {table: events, unit: unit_id, timestamp: ts}\n", encoding="utf-8")
    (folder / "metrics" / "m.yml").write_text(METRICS, encoding="utf-8")
    for name, metrics in EXPERIMENTS.items():
        (folder / "experiments" / f"{name}.yml").write_text(
            "variants:\n  - {name: control, weight: 1, control: true}\n"
            "  - {name: treatment, weight: 1}\nstart: 2026-01-05\nend: 2026-01-18\n"
            f"metrics:\n  primary: [{', '.join(metrics)}]\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=lambda s: int(s.replace("_", "")), default=200_000)
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--experiment", choices=sorted(EXPERIMENTS), default="funnel")
    args = parser.parse_args()
    folder = HERE / "data" / f"activity_u{args.units}"
    if args.generate:
        _generate(folder, args.units)
        return
    from assay.analysis import analyze

    result = analyze(folder, args.experiment)
    print(" ".join(f"{r.metric}={r.p_value:.3g}" for r in result.results))


if __name__ == "__main__":
    main()
