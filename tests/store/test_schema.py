"""The typed tables cover the JSON: every figure of a result record has its own column."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.store.cli import assay, set_key

from assay.results import MetricResult
from assay.store.schema import RESULTS, TABLES

# Each interval of the JSON is two columns, <name>_low and <name>_high.
_INTERVALS = {"diff_ci", "rel_lift_ci", "diff_ci_adjusted", "rel_lift_ci_adjusted",
              "sequential_ci", "credible_interval"}


def test_every_metric_result_field_is_a_results_column() -> None:
    missing = []
    for f in dataclasses.fields(MetricResult):
        names = [f"{f.name}_low", f"{f.name}_high"] if f.name in _INTERVALS else [f.name]
        missing += [n for n in names if n not in RESULTS]
    assert missing == [], "add these columns with a new migration in assay.store.migrations"


def test_every_table_keys_its_rows_by_experiment() -> None:
    assert all("experiment_id" in cols for name, cols in TABLES.items()
               if name != "schema_version")


def test_a_warehouse_error_exits_3_and_an_unknown_experiment_2(demo: Path) -> None:
    assert assay(demo, "decide", "checkout_redesgn", "rollback", "--by", "a",
                 "--why", "b").exit_code == 2
    assert assay(demo, "start", "nope").exit_code == 2
    set_key(demo / "assay_project.yml", "warehouse", "postgresql://nobody@127.0.0.1:9/none")
    result = assay(demo, "run", "checkout_redesign")
    assert result.exit_code == 3, result.output
    assert assay(demo, "analyze", "checkout_redesign").exit_code == 3
