"""The demo's known truths, and the effect sizes solved so that the headline truths are exact.

A *true relative effect* is ``E[metric | treatment] / E[metric | control] - 1`` over the units
randomised into the experiment, the expectation taken over the event noise given each user's
propensities (the quantity an unbiased analysis of that experiment estimates). For a ratio
metric it is the ratio of the two arms' ``E[numerator] / E[denominator]``, minus 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assay.demo.exposures import Kind
from assay.demo.population import IntArray, Population
from assay.demo.timeline import METRIC_WINDOW

WINDOW_DAYS = METRIC_WINDOW.total_seconds() / 86400.0

#: Headline truths of the effect experiments.
CHECKOUT_REVENUE_LIFT = 0.04
CHECKOUT_CONVERSION_LIFT = 0.03
SEARCH_SESSIONS_LIFT = 0.04
SEARCH_EXTRA_PAGES_LIFT = 0.05

COMMERCE = ("revenue", "orders", "conversion", "aov", "refunds", "refund_rate")
ENGAGEMENT = ("sessions", "pages", "session_duration")
#: Metrics with a stated truth (``revenue_capped`` has none: winsorizing changes the estimand).
METRICS = COMMERCE + ENGAGEMENT


@dataclass(frozen=True)
class ExperimentTruth:
    """What is known to be true about one demo experiment.

    Attributes:
        experiment_id: The experiment's id (its file name).
        kind: ``effect`` (real effect), ``aa`` (A/A), ``srm`` (sample-ratio mismatch) or
            ``multiarm`` (three arms).
        variants: Arm names in spec order; the first is the control.
        intended_shares: Assignment probabilities (the spec's normalised weights).
        logged_shares: Expected share of each arm among logged units (differs only under SRM).
        effects: Non-control arm -> metric -> true relative effect (0.0 where there is none).
        enrolled_units: Units randomised.
        logged_units: Arm -> units with an exposure inside the dates (first arm of each unit).
        duplicate_rows: Exact duplicate exposure rows injected.
        multi_variant_units: Units injected with a second exposure in another arm.
        out_of_window_rows: Exposure rows injected outside the experiment's dates.
        note: One sentence on what the experiment demonstrates.
        flag_mismatched_units: Units logged (and served) in another arm than assay's hash
            assigns (the trap's ramp).
    """

    experiment_id: str
    kind: Kind
    variants: tuple[str, ...]
    intended_shares: Mapping[str, float]
    logged_shares: Mapping[str, float]
    effects: Mapping[str, Mapping[str, float]]
    enrolled_units: int
    logged_units: Mapping[str, int]
    duplicate_rows: int
    multi_variant_units: int
    out_of_window_rows: int
    note: str
    flag_mismatched_units: int = 0

    @property
    def control(self) -> str:
        """The control arm."""
        return self.variants[0]

    @property
    def is_aa(self) -> bool:
        """True for the A/A test."""
        return self.kind == "aa"

    @property
    def is_srm(self) -> bool:
        """True for the experiment whose logged split is broken."""
        return self.kind == "srm"

    @property
    def is_trap(self) -> bool:
        """True for the experiment built to trip every trust check."""
        return self.kind == "trap"

    @property
    def is_multiarm(self) -> bool:
        """True for the experiment with more than one treatment arm."""
        return self.kind == "multiarm"

    def effect(self, variant: str, metric: str) -> float:
        """True relative effect of ``variant`` on ``metric`` (0.0 for metrics it does not move)."""
        return self.effects[variant].get(metric, 0.0)


@dataclass(frozen=True)
class DemoInfo:
    """What :func:`assay.demo.build_demo` wrote and the truths it holds.

    Attributes:
        out_dir: The project directory.
        warehouse: The DuckDB file (``out_dir / "warehouse.duckdb"``).
        project_file: ``out_dir / "assay_project.yml"``.
        metric_files: The ``metrics/*.yml`` files.
        experiment_files: The ``experiments/*.yml`` files.
        seed: The seed the data were generated with.
        users: Number of users.
        tables: Table name -> row count.
        experiments: Experiment id -> its known truth.
        seconds: Wall time the build took.
    """

    out_dir: Path
    warehouse: Path
    project_file: Path
    metric_files: tuple[Path, ...]
    experiment_files: tuple[Path, ...]
    seed: int
    users: int
    tables: Mapping[str, int]
    experiments: Mapping[str, ExperimentTruth]
    seconds: float


@dataclass(frozen=True)
class CheckoutEffect:
    """The checkout redesign's mechanism, solved so that its headline truths are exact.

    Attributes:
        rescue_rate: Probability that a treated user with no order in the window gets one.
        amount_lift: Relative increase of treated users' order amounts after exposure.
        truths: Metric -> true relative effect.
    """

    rescue_rate: float
    amount_lift: float
    truths: dict[str, float]


def solve_checkout(population: Population, units: IntArray) -> CheckoutEffect:
    """Rescue rate and amount lift giving exactly +3% conversion and +4% revenue on ``units``.

    For a user with order rate ``l`` and mean amount ``m``: ``E[orders] = 14 l``,
    ``P(no order) = exp(-14 l)`` and ``E[revenue] = 14 l m`` (times factors for NULL amounts
    and refunds that do not depend on the arm and cancel). Treatment adds one order with
    probability ``r`` when there is none, and multiplies amounts by ``1 + b``.
    """
    expected = WINDOW_DAYS * population.order_rate[units]
    mean_amount = population.mean_amount()[units]
    p_none = np.exp(-expected)
    rescue = CHECKOUT_CONVERSION_LIFT * float(np.sum(1 - p_none) / np.sum(p_none))
    orders_lift = rescue * float(np.sum(p_none) / np.sum(expected))
    revenue_base = float(np.sum(expected * mean_amount))
    revenue_rescue = rescue * float(np.sum(p_none * mean_amount))
    amount_lift = (1 + CHECKOUT_REVENUE_LIFT) * revenue_base / (revenue_base + revenue_rescue) - 1
    truths = {
        "revenue": CHECKOUT_REVENUE_LIFT,
        "conversion": CHECKOUT_CONVERSION_LIFT,
        "orders": orders_lift,
        "aov": (1 + CHECKOUT_REVENUE_LIFT) / (1 + orders_lift) - 1,
        # Refunds happen to a fixed share of orders whatever the arm.
        "refunds": orders_lift,
        "refund_rate": 0.0,
    }
    return CheckoutEffect(rescue, amount_lift, truths)


def search_truths(population: Population, units: IntArray) -> dict[str, float]:
    """ranker_b's truths: sessions x 1.04 and extra pages per session x 1.05 after exposure.

    ``E[pages] = 14 s (1 + e)`` for session rate ``s`` and extra pages ``e``; session durations
    do not depend on the arm, nor on who has a session, so their per-user average is unmoved.
    """
    rate = population.session_rate[units]
    extra = population.extra_pages[units]
    base = float(np.sum(rate * (1 + extra)))
    treated = float(np.sum(rate * (1 + SEARCH_SESSIONS_LIFT)
                           * (1 + extra * (1 + SEARCH_EXTRA_PAGES_LIFT))))
    return {"sessions": SEARCH_SESSIONS_LIFT, "pages": treated / base - 1,
            "session_duration": 0.0}


def no_effects() -> dict[str, float]:
    """Every stated metric at 0.0."""
    return dict.fromkeys(METRICS, 0.0)


def with_effects(changed: dict[str, float]) -> dict[str, float]:
    """Every stated metric, 0.0 unless given in ``changed``."""
    return {**no_effects(), **changed}

