"""Power from history: a metric's moments over a past period equal a pandas recomputation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.analysis.oracle import window_values
from tests.analysis.shop import Shop
from typer.testing import CliRunner

from assay.analysis.history import metric_history
from assay.cli import app
from assay.errors import SpecError
from assay.spec import load_project

START = dt.datetime(2026, 1, 8)
DAYS = 5


def _population(shop: Shop) -> pd.DataFrame:
    e = shop.exposures.to_pandas()
    e = e[e.user_id.notna() & (e.exposed_at >= START)
          & (e.exposed_at < START + dt.timedelta(days=DAYS))]
    return e.groupby("user_id").agg(t0=("exposed_at", "min"))


def test_history_moments_match_pandas(shop_project: Path, shop: Shop) -> None:
    units = _population(shop)
    orders = shop.orders.to_pandas()
    paid = orders.status != "cancelled"
    y = window_values(units, orders, "created_at", dt.timedelta(0), dt.timedelta(days=14), "sum",
                      "amount", paid).to_numpy()
    x = window_values(units, orders, "created_at", -dt.timedelta(days=14), dt.timedelta(0),
                      "sum", "amount", paid).to_numpy()
    moments = metric_history(load_project(shop_project), "revenue", START, DAYS)
    assert moments.names == ("y", "x") and moments.n == len(units)
    assert moments.totals() == pytest.approx([y.sum(), x.sum()], rel=1e-9)
    raw = moments.recentred(np.zeros(2))
    assert raw.cross[0, 1] == pytest.approx(float(np.dot(y, x)), rel=1e-9)


def test_history_with_a_named_population_source(shop_project: Path, shop: Shop) -> None:
    sessions = shop.sessions.to_pandas()
    active = sessions[(sessions.started_at >= START)
                      & (sessions.started_at < START + dt.timedelta(days=DAYS))]
    moments = metric_history(load_project(shop_project), "conversion", START, DAYS,
                             population="sessions")
    assert moments.n == active.user_id.nunique()
    assert 0 < moments.mean("y") < 1


def test_unknown_metric_or_population_is_a_spec_error(shop_project: Path) -> None:
    project = load_project(shop_project)
    with pytest.raises(SpecError, match="did you mean `revenue`"):
        metric_history(project, "revenu", START, DAYS)
    with pytest.raises(SpecError, match="did you mean `sessions`"):
        metric_history(project, "revenue", START, DAYS, population="sesions")


def test_power_cli_plans_from_history(shop_project: Path) -> None:
    result = CliRunner().invoke(app, ["power", "--metric", "revenue", "--history-start",
                                      "2026-01-08", "--history-days", "5", "--mde", "0.05",
                                      "-p", str(shop_project), "--format", "json"])
    assert result.exit_code == 0, result.output
    import json

    plan = json.loads(result.output)
    assert plan["metric"] == "revenue" and plan["units_per_arm"] > 0
    assert 0 < plan["cuped_reduction"] < 1
