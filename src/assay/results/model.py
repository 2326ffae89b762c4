"""Result data: plain and frozen. Rendering lives in :mod:`assay.report`.

The JSON form (:meth:`AnalysisResult.to_dict`) is a documented, stable contract
(``docs/json-schema.md``); fields are only ever added.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from assay.results.tables import Part

Status = Literal["pass", "warn", "fail"]
JSON_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Arm:
    """One arm's traffic.

    Attributes:
        variant: Variant name.
        units: Units analysed (first exposure in the dates, one variant only).
        expected_share: Intended share from the spec's weights.
        observed_share: ``units / all analysed units``.
        exposure_rows: Exposure rows of these units (duplicates included).
    """

    variant: str
    units: int
    expected_share: float
    observed_share: float
    exposure_rows: int


@dataclass(frozen=True)
class Check:
    """The verdict of one trust check.

    Attributes:
        name: The check (``srm``, ``srm_by_dimension`` ...).
        status: ``pass``, ``warn`` or ``fail``.
        message: One sentence a product manager understands.
        figures: The numbers the verdict was read from.
        code: What exactly was found, for machines (``srm_segment``, ``ramp_change`` ...);
            None where the status says it all.
        remedy: What to do about it; None when there is nothing to do.
    """

    name: str
    status: Status
    message: str
    figures: dict[str, Any] = field(default_factory=dict)
    code: str | None = None
    remedy: str | None = None


@dataclass(frozen=True)
class MetricResult:
    """One metric x non-control variant comparison (overall, or within one segment).

    ``mean_control``/``mean_treatment`` are the observed (unadjusted) means; ``diff``, its CI,
    ``rel_lift`` and the p-value come from the adjusted estimates when CUPED is on.

    ``diff_ci``/``rel_lift_ci`` are each at level ``1 - alpha`` on their own;
    ``diff_ci_adjusted``/``rel_lift_ci_adjusted`` are the same intervals at the per-interval
    level of the experiment's ``correction`` over the family (see
    :func:`assay.stats.multiple.adjust_effects`): Bonferroni and Holm at ``alpha / m``, BH and
    BY false-coverage-rate intervals at ``R alpha / m`` (``/ c(m)`` for BY); with correction
    ``none`` they equal the unadjusted ones. None when the comparison has an ``error``.
    """

    metric: str
    role: str
    kind: str
    variant: str
    control: str
    n_control: float
    n_treatment: float
    mean_control: float
    mean_treatment: float
    diff: float
    diff_se: float
    diff_ci: tuple[float, float]
    rel_lift: float
    rel_lift_ci: tuple[float, float]
    p_value: float
    p_value_adjusted: float
    significant: bool
    method: str
    cuped_variance_reduction: float | None
    error: str | None
    higher_is_better: bool = True
    segment: str | None = None
    segment_value: str | None = None
    null_values: int = 0
    sequential_method: str | None = None
    sequential_p_value: float | None = None
    sequential_p_value_adjusted: float | None = None
    sequential_ci: tuple[float, float] | None = None
    sequential_boundary: float | None = None
    sequential_crossed: bool | None = None
    prob_beat_control: float | None = None
    credible_interval: tuple[float, float] | None = None
    expected_loss: float | None = None
    diff_ci_adjusted: tuple[float, float] | None = None
    rel_lift_ci_adjusted: tuple[float, float] | None = None
    rel_lift_method: str = "delta"
    statistic: float | None = None
    df: float | None = None
    cuped_theta: float | None = None
    arm_figures: dict[str, dict[str, float]] = field(default_factory=dict)
    covariate_coefficients: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RankTest:
    """A Mann-Whitney comparison of one metric's per-unit values, treatment vs control.

    ``auc`` is P(treatment value > control value) + P(tie) / 2; 0.5 means no shift. Rank tests
    are reported beside the mean comparison and are not part of the corrected family.
    """

    metric: str
    variant: str
    control: str
    n_control: float
    n_treatment: float
    u: float
    auc: float
    p_value: float
    error: str | None


@dataclass(frozen=True)
class BootstrapInterval:
    """Poisson-bootstrap percentile intervals of one metric, treatment vs control.

    Replicate sums come from the warehouse; the intervals are percentiles of the replicate
    differences and relative lifts. Not part of the corrected family.
    """

    metric: str
    variant: str
    control: str
    replicates: int
    diff: float
    diff_ci: tuple[float, float]
    rel_lift: float
    rel_lift_ci: tuple[float, float]
    error: str | None


@dataclass(frozen=True)
class DbtNode:
    """A dbt node a result's numbers came from, as the manifest described it at analysis time.

    ``checksum`` is dbt's (SHA-256 of the model's file) for models, seeds and snapshots, and the
    SHA-256 of the manifest entry for sources, semantic models and metrics (which have none).
    """

    unique_id: str
    resource_type: str
    checksum: str
    file: str
    relation: str | None = None


@dataclass(frozen=True)
class AnalysisResult:
    """Everything one analysis produced, ready to render, store or serialise.

    ``fingerprint`` identifies the inputs (spec hash, SQL hash, data watermark, row counts):
    two analyses with the same fingerprint read the same data the same way, so their figures
    must be identical (the ``reproducibility`` check holds them to it).
    """

    experiment: str
    name: str | None
    hypothesis: str | None
    spec_hash: str
    run_at: str
    control: str
    alpha: float
    correction: str
    cuped: bool
    warehouse: str
    arms: list[Arm]
    results: list[MetricResult]
    segments: list[MetricResult]
    checks: list[Check]
    sql: dict[str, str]
    versions: dict[str, str]
    planned_sample_size: int | None = None
    rank_tests: list[RankTest] = field(default_factory=list)
    bootstrap: list[BootstrapInterval] = field(default_factory=list)
    dbt_nodes: list[DbtNode] = field(default_factory=list)
    fingerprint: dict[str, Any] = field(default_factory=dict)

    @property
    def units(self) -> int:
        """Units analysed across arms."""
        return sum(a.units for a in self.arms)

    def status(self) -> Status:
        """The worst check status."""
        statuses = {c.status for c in self.checks}
        return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN and infinities become null)."""
        data = asdict(self)
        data["schema_version"] = JSON_SCHEMA_VERSION
        data["units"] = self.units
        data["status"] = self.status()
        cleaned: dict[str, Any] = _clean(data)
        return cleaned

    def to_arrow(self, part: Part = "results") -> pa.Table:
        """One part (results, segments, checks, arms, rank_tests, bootstrap) as an Arrow table."""
        from assay.results.tables import to_arrow

        return to_arrow(self, part)

    def to_pandas(self, part: Part = "results") -> pd.DataFrame:
        """:meth:`to_arrow` as a pandas DataFrame (needs pandas)."""
        return self.to_arrow(part).to_pandas()

    def _repr_html_(self) -> str:
        """Jupyter's view: the recommendation, the results with CI bars and the checks.

        Rendering lives in :mod:`assay.report`; it is imported here, at call time only.
        """
        from assay.report.html import render_notebook

        return render_notebook(self)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
