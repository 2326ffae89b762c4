"""The demo's arms are assay's own assignment: the SDK, `assay assign`, `assay hash`, the SQL twin
and the documented hash recipe (worked here with hashlib alone) all give the arm the data hold.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from assay.assign.sql import assignment_query
from assay.cli import app
from assay.client import Client
from assay.demo import DemoInfo, template_experiments
from assay.spec import load_project

SPECS = template_experiments()

#: Variant-hash ranges of the demo's weights (anchored slots, docs/assignment.md): equal weights
#: cut the 10,000 buckets into equal slots; 10000 // 3 = 3333 leaves bucket 9999 to no arm.
RANGES = {
    ("control", "treatment"): {"control": (0, 5000), "treatment": (5000, 10000)},
    ("control", "ranker_b", "ranker_c"): {"control": (0, 3333), "ranker_b": (3333, 6666),
                                         "ranker_c": (6666, 9999)},
}


def documented_bucket(salt: str, unit_id: str) -> int:
    """Hash version 1 as docs/assignment.md states it: MD5 of ``salt:unit_id``, first 8 hex
    digits as an integer, modulo 10,000."""
    return int(hashlib.md5(f"{salt}:{unit_id}".encode()).hexdigest()[:8], 16) % 10_000


def documented_variant(experiment_id: str, unit_id: str) -> str | None:
    """The demo spec's arm for ``unit_id`` from the documented recipe: traffic gate, then slots."""
    spec = SPECS[experiment_id]
    if documented_bucket(spec.hash_salt + ":traffic", unit_id) >= round(spec.traffic * 10_000):
        return None
    bucket = documented_bucket(spec.hash_salt, unit_id)
    ranges = RANGES[tuple(v.name for v in spec.variants)]
    return next((arm for arm, (lo, hi) in ranges.items() if lo <= bucket < hi), None)


def logged_arms(con: duckdb.DuckDBPyConnection, experiment_id: str) -> dict[str, str]:
    """Unit -> arm of its first exposure inside the dates (the arm an analysis reads)."""
    spec = SPECS[experiment_id]
    rows = con.execute(
        """
        select unit_id, arg_min(variant, "timestamp") from exposures
        where experiment_id = ? and "timestamp" >= ? and "timestamp" < ?
        group by unit_id
        """, [experiment_id, spec.start_at(), spec.end_at()]).fetchall()
    return dict(rows)


def user_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute("select user_id from users order by user_id").fetchall()]


@pytest.mark.parametrize("experiment_id", sorted(SPECS))
def test_every_logged_arm_is_the_sdk_answer(demo: DemoInfo, con: duckdb.DuckDBPyConnection,
                                            experiment_id: str) -> None:
    client = Client.from_project(demo.out_dir)  # the project files the demo wrote
    users = user_ids(con)
    assigned = dict(zip(users, client.variants(experiment_id, users).tolist(), strict=True))
    logged = logged_arms(con, experiment_id)
    truth = demo.experiments[experiment_id]
    mismatched = {u for u, arm in logged.items() if assigned[u] != arm}
    # The trap's ramp served control to treatment units in its first days: those, and only
    # those, are logged in another arm than the SDK's.
    assert logged and len(mismatched) == truth.flag_mismatched_units
    assert all((logged[u], assigned[u]) == ("control", "treatment") for u in mismatched)
    assert truth.is_trap == bool(mismatched)
    in_experiment = {u for u, arm in assigned.items() if arm is not None}
    assert len(in_experiment) == truth.enrolled_units
    missing = in_experiment - set(logged)
    if truth.is_srm:
        # The logging bug, not the assignment: every unit missing from the log is an Android
        # control unit that assay did assign.
        platform = dict(con.execute("select user_id, platform from users").fetchall())
        assert missing and {(assigned[u], platform[u]) for u in missing} == {
            ("control", "android")}
    else:
        assert missing == set()


@pytest.mark.parametrize("experiment_id", sorted(SPECS))
def test_sampled_units_follow_the_documented_recipe(demo: DemoInfo,
                                                    con: duckdb.DuckDBPyConnection,
                                                    experiment_id: str) -> None:
    users = user_ids(con)
    odd = [u for u in users if not u.startswith("u_") or len(u) > 100]
    sample = random.Random(experiment_id).sample(users, 300) + odd
    logged = logged_arms(con, experiment_id)
    answers = [documented_variant(experiment_id, u) for u in sample]
    assert set(answers) >= {None, *SPECS[experiment_id].weights()}
    for unit, answer in zip(sample, answers, strict=True):
        if unit in logged:
            ramped = demo.experiments[experiment_id].is_trap and (
                (logged[unit], answer) == ("control", "treatment"))
            assert logged[unit] == answer or ramped, unit
        elif not demo.experiments[experiment_id].is_srm:
            assert answer is None, unit


def test_the_cli_gives_a_demo_unit_its_logged_arm(demo: DemoInfo,
                                                  con: duckdb.DuckDBPyConnection) -> None:
    logged = logged_arms(con, "checkout_redesign")
    units = sorted(logged)[:40] + [u for u in logged if not u.startswith("u_")][:5]
    ids = demo.out_dir / "units.txt"
    ids.write_text("".join(u + "\n" for u in units), encoding="utf-8")
    result = CliRunner().invoke(app, ["assign", "checkout_redesign", "--units", str(ids),
                                      "--project", str(demo.out_dir)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["unit_id"] for r in rows] == units
    assert all(r["variant"] == logged[r["unit_id"]] for r in rows)

    unit = units[0]
    shown = CliRunner().invoke(app, ["hash", "checkout_redesign", unit])
    assert shown.exit_code == 0, shown.output
    bucket = int(shown.stdout.strip().split()[-1])
    assert bucket == documented_bucket("checkout_redesign", unit)
    assert logged[unit] == ("control" if bucket < 5000 else "treatment")


def test_the_sql_twin_assigns_the_demo_warehouse_alike(demo: DemoInfo,
                                                       con: duckdb.DuckDBPyConnection) -> None:
    project = load_project(demo.out_dir)
    for experiment_id in ("search_ranking_3arm", "homepage_aa"):
        query = assignment_query(project.experiments, experiment_id, "duckdb", units="users",
                                 unit_column="user_id")
        in_sql = {u: v for u, _, v in con.execute(query.sql(dialect="duckdb")).fetchall()}
        logged = logged_arms(con, experiment_id)
        assert all(in_sql[u] == arm for u, arm in logged.items())
        assert {u for u, v in in_sql.items() if v is not None} == set(logged)


def test_stray_rows_are_units_the_traffic_gate_keeps_out(demo: DemoInfo,
                                                         con: duckdb.DuckDBPyConnection) -> None:
    spec = SPECS["checkout_redesign"]
    rows = con.execute(
        """
        select unit_id, variant from exposures
        where experiment_id = 'checkout_redesign' and ("timestamp" < ? or "timestamp" >= ?)
        """, [spec.start_at(), spec.end_at()]).fetchall()
    assert len(rows) == demo.experiments["checkout_redesign"].out_of_window_rows
    client = Client.from_project(demo.out_dir)
    for unit, variant in rows:
        assert client.explain("checkout_redesign", unit).reason == "traffic"
        # Logged by a client that skipped the traffic gate: the variant hash's arm.
        bucket = documented_bucket(spec.hash_salt, unit)
        assert variant == ("control" if bucket < 5000 else "treatment")


def test_arms_do_not_depend_on_the_seed(tmp_path: Path) -> None:
    from assay.demo import build_demo

    arms = []
    for seed in (3, 4):
        info = build_demo(tmp_path / str(seed), seed=seed, users=1000)
        with duckdb.connect(str(info.warehouse), read_only=True) as connection:
            arms.append(logged_arms(connection, "homepage_aa"))
    assert arms[0] == arms[1] and len(arms[0]) > 400
