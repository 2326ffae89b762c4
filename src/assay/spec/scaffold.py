"""Templates that ``assay init`` writes: a minimal, commented, valid project."""

from __future__ import annotations

from pathlib import Path

from assay.errors import AssayError

PROJECT = """\
# assay project: where the data lives and how exposures are logged.
name: my_project
# DuckDB file (relative to this folder), or postgresql://user@host/db, or spark://local
warehouse: duckdb:///warehouse.duckdb

# One row per exposure: the first time a unit saw variant-specific behaviour.
exposures:
  table: exposures
  experiment_id: experiment_id
  variant: variant
  unit_id: unit_id
  timestamp: timestamp

# Named event sources that metrics refer to.
sources:
  orders:
    table: orders
    unit: unit_id
    timestamp: created_at
"""

METRICS = """\
metrics:
  - name: revenue
    description: Order value per unit in the 14 days after first exposure.
    kind: mean
    source: orders
    value: amount
    aggregation: sum          # sum | count | avg | max | min
    window: [0d, 14d]         # relative to each unit's first exposure
    pre_window: [-28d, 0d]    # the same metric before exposure: CUPED's covariate
    capping: {winsorize: 0.99}

  - name: orders
    kind: mean
    source: orders
    aggregation: count
    window: [0d, 14d]
    pre_window: [-28d, 0d]

  - name: conversion
    description: Share of units with at least one order.
    kind: proportion
    source: orders
    window: [0d, 14d]

  - name: average_order_value
    kind: ratio
    numerator: revenue
    denominator: orders
"""

EXPERIMENT = """\
# The file name is the experiment id.
name: New checkout
hypothesis: A shorter checkout raises revenue per user.
salt: new_checkout_v1
variants:
  - {name: control, weight: 50, control: true}
  - {name: treatment, weight: 50}
start: 2026-01-01
end: 2026-01-28
metrics:
  primary: [revenue]
  secondary: [conversion, orders, average_order_value]
  guardrails: []
alpha: 0.05
cuped: true
correction: holm           # none | bonferroni | holm | bh | by
planned_sample_size: 20000
"""


def scaffold(directory: str | Path, *, force: bool = False) -> list[Path]:
    """Write the template project into ``directory``; returns the files written.

    Raises:
        AssayError: A file exists and ``force`` is False.
    """
    root = Path(directory)
    files = {
        root / "assay_project.yml": PROJECT,
        root / "metrics" / "core.yml": METRICS,
        root / "experiments" / "new_checkout.yml": EXPERIMENT,
    }
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise AssayError(f"{existing[0]} exists; pass --force to overwrite")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
