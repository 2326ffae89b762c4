"""``build_demo``: write the demo project (specs) and its warehouse (users, sessions, orders,
exposures) with experiments whose truth is known.

The experiment specs shipped in ``project/experiments`` are the single source of ids, arms,
traffic and dates; the generator reads them, assigns units with assay's salted hash (as the SDK
would) and :data:`assay.demo.exposures.PLANS` says what each one is (real effect, A/A, SRM,
three arms).
"""

from __future__ import annotations

import time
from dataclasses import replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

from assay.assign.engine import compile_experiments
from assay.demo.events import orders_table, poisson_events, rescue_orders, sessions_table
from assay.demo.exposures import (
    PLANS,
    SRM_LOGGED_CONTROL_SHARE,
    Enrollment,
    ExposureLog,
    enroll,
    exposure_log,
    exposures_table,
    logged_units,
)
from assay.demo.population import (
    CHANNELS,
    COUNTRIES,
    PLATFORMS,
    Population,
    labels,
    make_population,
)
from assay.demo.timeline import Timeline
from assay.demo.traps import CAROUSEL, TRAPS, build_traps
from assay.demo.truth import (
    SEARCH_EXTRA_PAGES_LIFT,
    SEARCH_SESSIONS_LIFT,
    CheckoutEffect,
    DemoInfo,
    ExperimentTruth,
    no_effects,
    search_truths,
    solve_checkout,
    with_effects,
)
from assay.spec.models import ExperimentSpec
from assay.warehouse.duckdb import DuckDBWarehouse

WAREHOUSE_FILE = "warehouse.duckdb"
PROJECT_FILE = "assay_project.yml"
CHECKOUT = "checkout_redesign"
SEARCH = "search_ranking_3arm"
_STREAMS = ("population", "enroll", "srm", "log", "orders", "order_values", "sessions",
            "session_values")
_NOTES = {
    "effect": "Treatment truly raises revenue per user by 4% and conversion by 3%.",
    "aa": "Both arms are identical: any significant result is a false positive.",
    "srm": "Assignment is 50/50 and nothing changes, but a logging bug drops Android control "
           "exposures (logged ~48/52): the SRM check must fire and the comparison is biased.",
    "multiarm": "ranker_b truly raises sessions by 4% and pages more; ranker_c does nothing.",
    "trap": "Built to trip every trust check: a ramp that ignores the hash, a reused salt, a "
            "promotion, a novelty effect, a small segment, a tiny effect, diluted exposure and "
            "an overrun plan.",
}


def build_demo(out_dir: Path, *, seed: int = 7, users: int = 60_000) -> DemoInfo:
    """Build the demo project in ``out_dir``: specs, and a DuckDB warehouse with known truths.

    Writes ``warehouse.duckdb`` (replaced if present), ``assay_project.yml``, ``metrics/*.yml``
    and ``experiments/*.yml``. The same ``seed`` and ``users`` give identical data.

    Args:
        out_dir: Project directory (created if missing).
        seed: Random seed of the users, their events, exposure times and logging faults. Not of
            the arms: who enters and in which arm is assay's salted hash of each user id.
        users: Number of users (the default gives the analyses high power; tests use fewer).

    Returns:
        The paths written and every experiment's known truth.
    """
    if users < 1000:
        raise ValueError("the demo needs at least 1000 users")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    metric_files, experiment_files = _copy_templates(out_dir)
    specs = template_experiments()
    timeline = Timeline.for_experiments(list(specs.values()))
    rng = dict(zip(_STREAMS, (np.random.default_rng(s) for s in
                              np.random.SeedSequence(seed).spawn(len(_STREAMS))), strict=True))
    population = make_population(rng["population"], users, timeline.history_start,
                                 timeline.first_start)
    unit_ids = population.user_id.tolist()
    compiled = compile_experiments(specs)
    enrollments = {eid: enroll(rng["enroll"], compiled[eid], unit_ids, timeline)
                   for eid in specs if eid not in TRAPS}
    checkout = solve_checkout(population, enrollments[CHECKOUT].units)

    logs: dict[str, ExposureLog] = {}
    truths: dict[str, ExperimentTruth] = {}
    for eid, enrollment in enrollments.items():
        keep = logged_units(rng["srm"], enrollment, PLANS[eid], population)
        logs[eid] = exposure_log(rng["log"], enrollment, PLANS[eid], keep, unit_ids, timeline)
        truths[eid] = _truth(enrollment, keep, logs[eid], population, checkout)
    traps = build_traps(seed, compiled, population, timeline)
    for eid, enrollment in traps.enrollments.items():
        logs[eid] = traps.logs[eid]
        keep = np.ones(enrollment.units.size, dtype=bool)
        truths[eid] = replace(
            _truth(enrollment, keep, logs[eid], population, checkout, traps.truths.get(eid)),
            flag_mismatched_units=traps.mismatched_units if eid == CAROUSEL else 0)

    tables = {
        "users": _users_table(population, timeline),
        "orders": _orders(rng, population, enrollments[CHECKOUT], checkout, timeline),
        "sessions": _sessions(rng, population, enrollments[SEARCH], timeline),
        "exposures": exposures_table(logs, specs, population, timeline),
        "carousel_events": traps.events,
    }
    warehouse = out_dir / WAREHOUSE_FILE
    _write_warehouse(warehouse, tables)
    return DemoInfo(
        out_dir=out_dir, warehouse=warehouse, project_file=out_dir / PROJECT_FILE,
        metric_files=metric_files, experiment_files=experiment_files, seed=seed, users=users,
        tables={name: table.num_rows for name, table in tables.items()},
        experiments=truths, seconds=time.perf_counter() - started,
    )


def template_experiments() -> dict[str, ExperimentSpec]:
    """The shipped experiment specs, by id (validated with :class:`ExperimentSpec`)."""
    folder = _templates().joinpath("experiments")
    specs: dict[str, ExperimentSpec] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yml"):
            eid = entry.name.removesuffix(".yml")
            specs[eid] = ExperimentSpec(id=eid, **yaml.safe_load(entry.read_text("utf-8")))
    if set(specs) != set(PLANS):
        raise RuntimeError(f"demo templates {sorted(specs)} do not match plans {sorted(PLANS)}")
    return specs


def _templates() -> Traversable:
    return resources.files("assay.demo").joinpath("project")


def _copy_templates(out_dir: Path) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    root = _templates()
    (out_dir / "metrics").mkdir(parents=True, exist_ok=True)
    (out_dir / "experiments").mkdir(parents=True, exist_ok=True)
    (out_dir / PROJECT_FILE).write_bytes(root.joinpath(PROJECT_FILE).read_bytes())
    written: dict[str, list[Path]] = {"metrics": [], "experiments": []}
    for folder, paths in written.items():
        for entry in sorted(root.joinpath(folder).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".yml"):
                target = out_dir / folder / entry.name
                target.write_bytes(entry.read_bytes())
                paths.append(target)
    return tuple(written["metrics"]), tuple(written["experiments"])


def _orders(rng: dict[str, np.random.Generator], population: Population,
            enrollment: Enrollment, effect: CheckoutEffect, timeline: Timeline) -> pa.Table:
    n, end = population.size, timeline.end_seconds
    treated = enrollment.arm_of(n) == _arm(enrollment, "treatment")
    exposure = enrollment.exposure_of(n, end)
    events = poisson_events(rng["orders"], population, population.order_rate, exposure,
                            np.ones(n), end)
    events = rescue_orders(rng["orders"], events, treated, exposure, effect.rescue_rate)
    multiplier = np.where(treated, 1 + effect.amount_lift, 1.0)
    return orders_table(rng["order_values"], events, population, multiplier, timeline)


def _sessions(rng: dict[str, np.random.Generator], population: Population,
              enrollment: Enrollment, timeline: Timeline) -> pa.Table:
    n, end = population.size, timeline.end_seconds
    ranker_b = enrollment.arm_of(n) == _arm(enrollment, "ranker_b")
    events = poisson_events(rng["sessions"], population, population.session_rate,
                            enrollment.exposure_of(n, end),
                            np.where(ranker_b, 1 + SEARCH_SESSIONS_LIFT, 1.0), end)
    pages = np.where(ranker_b, 1 + SEARCH_EXTRA_PAGES_LIFT, 1.0)
    return sessions_table(rng["session_values"], events, population, pages, timeline)


def _users_table(population: Population, timeline: Timeline) -> pa.Table:
    return pa.table({
        "user_id": population.id_array,
        "signup_at": timeline.timestamps(population.signup),
        "country": labels(COUNTRIES, population.country),
        "platform": labels(PLATFORMS, population.platform),
        "channel": labels(CHANNELS, population.channel),
    })


def _truth(enrollment: Enrollment, keep: np.ndarray, log: ExposureLog,
           population: Population, checkout: CheckoutEffect,
           trap: dict[str, float] | None = None) -> ExperimentTruth:
    spec = enrollment.spec
    plan = PLANS[spec.id]
    names = tuple(v.name for v in spec.variants)
    intended = spec.weights()
    logged = dict(intended)
    if plan.kind == "srm":
        logged = {names[0]: SRM_LOGGED_CONTROL_SHARE, names[1]: 1 - SRM_LOGGED_CONTROL_SHARE}
    counts = np.bincount(enrollment.arm[keep], minlength=len(names))
    if plan.kind == "trap":  # the ramp's served split, as logged
        logged = {name: float(c / counts.sum()) for name, c in zip(names, counts, strict=True)}
    effects = {name: no_effects() for name in names[1:]}
    if spec.id == CHECKOUT:
        effects["treatment"] = with_effects(checkout.truths)
    elif spec.id == SEARCH:
        effects["ranker_b"] = with_effects(search_truths(population, enrollment.units))
    elif spec.id == CAROUSEL and trap is not None:
        effects["treatment"] = with_effects(trap)
    return ExperimentTruth(
        experiment_id=spec.id, kind=plan.kind, variants=names, intended_shares=intended,
        logged_shares=logged, effects=effects, enrolled_units=int(enrollment.units.size),
        logged_units={name: int(c) for name, c in zip(names, counts, strict=True)},
        duplicate_rows=log.duplicate_rows, multi_variant_units=log.multi_variant_units,
        out_of_window_rows=log.out_of_window_rows, note=_NOTES[plan.kind],
    )


def _arm(enrollment: Enrollment, name: str) -> int:
    return [v.name for v in enrollment.spec.variants].index(name)


def _write_warehouse(path: Path, tables: dict[str, pa.Table]) -> None:
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    warehouse = DuckDBWarehouse(path)  # which turns DuckDB's progress bar off itself
    try:
        for name, table in tables.items():
            warehouse.write_table(name, table, mode="replace")
    finally:
        warehouse.close()
