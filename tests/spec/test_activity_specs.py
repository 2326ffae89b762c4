"""Funnel, retention and participation specs: shape rules and located errors."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from tests.metrics.activity_data import METRICS, build_tables, write_project

from assay.analysis import analyze
from assay.errors import SpecError
from assay.spec import load_project
from assay.spec.models import MetricSpec
from assay.warehouse.duckdb import DuckDBWarehouse

CART = "- {name: cart, filter: \"event = 'cart'\"}"


@pytest.mark.parametrize(("change", "message"), [
    ((CART, "- {name: cart, source: evnts}"),
     "m.yml:8: metrics[0].steps[1].source: unknown source `evnts`; did you mean `events`?"),
    (("event = 'cart'", "event = = 'cart'"), "m.yml:8: metrics[0].steps[1].filter: SQL does"),
    (("window: [0d, 5d]", "window: [-1d, 5d]"),
     "m.yml:10: metrics[1]: a retention window starts at or after first exposure"),
    (("window: [0d, 6d]", "window: [0d, 6d]\n    value: x"),
     "metrics[2]: a participation metric takes no `value`"),
    ((CART, CART.replace("cart", "view")), "funnel step names must be unique; repeated: view"),
    (("window: [0d, 6d]", "window: [0d, 36h]"), "a participation window is whole days"),
    (("window: [0d, 6d]", "window: [0d, 400d]"), "a participation window is at most 366 days"),
    (("    filter: \"event = 'visit'\"\n    window: [0d, 5d]\n", ""),
     "a retention metric needs a `window`"),
])
def test_bad_activity_specs_are_located(tmp_path: Path, change: tuple[str, str],
                                        message: str) -> None:
    old, new = change
    assert old in METRICS
    with pytest.raises(SpecError) as err:
        load_project(write_project(tmp_path, METRICS.replace(old, new, 1)))
    assert message in str(err.value)


def test_a_missing_step_column_is_found_before_anything_runs(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path, METRICS.replace("event = 'cart'",
                                                                   "evnt = 'cart'")))
    with closing(DuckDBWarehouse(":memory:")) as wh:
        for name, table in build_tables(40).items():
            wh.write_table(name, table, mode="replace")
        with pytest.raises(SpecError, match=r"steps\[1\].filter: column `evnt` is not in "
                                            r"`events`; did you mean `event`\?"):
            analyze(project, "exp", warehouse=wh)


def test_a_funnel_needs_two_steps_and_sources() -> None:
    one = {"name": "f", "kind": "funnel", "source": "e", "steps": [{"name": "a"}]}
    with pytest.raises(ValueError, match="at least two `steps`"):
        MetricSpec.model_validate(one)
    sourceless = {"name": "f", "kind": "funnel", "steps": [{"name": "a", "source": "e"},
                                                           {"name": "b"}]}
    with pytest.raises(ValueError, match="needs a `source`"):
        MetricSpec.model_validate(sourceless)
    own = {**sourceless, "steps": [{"name": "a", "source": "e"}, {"name": "b", "source": "o"}]}
    assert MetricSpec.model_validate(own).steps is not None
    with pytest.raises(ValueError, match="`steps` belong to funnel metrics"):
        MetricSpec.model_validate({"name": "m", "source": "e", "steps": [{"name": "a"}]})


def test_activity_metrics_cannot_be_ratio_parts_or_rank_tested(tmp_path: Path) -> None:
    metrics = METRICS + "  - {name: per_return, kind: ratio, numerator: returned, " \
        "denominator: active_days}\n"
    root = write_project(tmp_path, metrics)
    (root / "experiments" / "exp.yml").write_text(
        (root / "experiments" / "exp.yml").read_text() + "rank_tests: [active_days]\n")
    with pytest.raises(SpecError) as err:
        load_project(root)
    text = str(err.value)
    assert "`returned` is itself a retention" in text
    assert "`active_days` is a participation metric; rank tests are for mean" in text
