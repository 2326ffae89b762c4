"""Pydantic models of a project: ``assay_project.yml``, ``metrics/*.yml``, ``experiments/*.yml``.

The models check shape and types; cross-references (a metric an experiment names, a ratio's
numerator) are checked by :mod:`assay.spec.validate` once the whole project is loaded, so that
every problem is reported at once with its file and line.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from assay.spec.activity import DISTINCT_COUNTS, check_activity_fields
from assay.spec.refs import parse_call

_DURATION = re.compile(r"^\s*(-?\d+)\s*(d|h|m|w)\s*$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
MAX_DURATION = dt.timedelta(days=36_600)
"""Longest window or offset (about a century): beyond it date arithmetic overflows."""
EARLIEST_DATE, LATEST_DATE = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
# a plain part, or one already quoted as an identifier (dbt's relations: "db"."schema"."t")
_TABLE_PART = re.compile(r'^(?:[A-Za-z0-9_$\-]+|"[^".]+")$')


def table_name(value: str | None) -> str | None:
    """A table name as ``[catalog.][schema.]table`` of plain parts: no quotes, spaces or
    empty parts (they would break the SQL built from it, or reach it unquoted)."""
    if value is None:
        return None
    if parse_call(value) is not None:
        return value  # ref('x') / source('a', 'b'): the dbt context resolves it to a relation
    parts = value.split(".")
    if not value or len(parts) > 3 or not all(_TABLE_PART.match(p) for p in parts):
        raise ValueError(f"{value[:60]!r} is not a table name; write [schema.]table with "
                         "letters, digits, `_`, `$` or `-`")
    return value


def _no_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


def _a_date(value: object) -> object:
    if isinstance(value, int | float):  # pydantic would read 123 as Unix time
        raise ValueError("expected a date such as 2026-01-01, not a number")
    moment = value.date() if isinstance(value, dt.datetime) else value
    if isinstance(moment, dt.date) and not EARLIEST_DATE <= moment <= LATEST_DATE:
        raise ValueError(f"dates must lie between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


class Strict(BaseModel):
    """Base: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def parse_duration(text: str | int) -> dt.timedelta:
    """Parse ``14d``, ``-28d``, ``12h``, ``30m``, ``2w`` (a bare integer means days)."""
    if isinstance(text, bool):
        raise ValueError(f"{text} is not a duration; write e.g. 14d, -28d, 12h, 2w")
    match = None if isinstance(text, int) else _DURATION.match(str(text)[:40])
    if not isinstance(text, int) and not match:
        raise ValueError(f"'{str(text)[:40]}' is not a duration; write e.g. 14d, -28d, 12h, 2w")
    seconds = text * 86400 if isinstance(text, int) else \
        int(match.group(1)) * _UNIT_SECONDS[match.group(2)]  # type: ignore[union-attr]
    if abs(seconds) > MAX_DURATION.total_seconds():
        raise ValueError(f"'{text}' is longer than {MAX_DURATION.days} days")
    return dt.timedelta(seconds=seconds)


class Window(Strict):
    """A half-open window ``[start, end)`` relative to a unit's first exposure."""

    start: dt.timedelta
    end: dt.timedelta

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError("a window is a list of two durations, e.g. [0d, 14d]")
            return {"start": parse_duration(value[0]), "end": parse_duration(value[1])}
        if isinstance(value, str):
            parts = value.strip().strip("[]()").split(",")
            if len(parts) != 2:
                raise ValueError("a window is written [0d, 14d)")
            return {"start": parse_duration(parts[0]), "end": parse_duration(parts[1])}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError("a window must end after it starts")
        return self


class Source(Strict):
    """Where a metric's events come from: a table or a SQL ``SELECT``, keyed by unit and time."""

    table: Annotated[str | None, AfterValidator(table_name)] = None
    sql: str | None = None
    unit: str = Field(description="Column holding the unit id (joins to the exposure unit id).")
    timestamp: str = Field(description="Column holding the event time.")

    @model_validator(mode="after")
    def _one_of(self) -> Source:
        if (self.table is None) == (self.sql is None):
            raise ValueError("a source needs exactly one of `table` or `sql`")
        return self


class Capping(Strict):
    """Cap each unit's value: at an absolute bound, or winsorize at a percentile (pooled)."""

    max: Annotated[float | None, BeforeValidator(_no_bool), Field(allow_inf_nan=False)] = None
    min: Annotated[float | None, BeforeValidator(_no_bool), Field(allow_inf_nan=False)] = None
    winsorize: float | None = Field(None, gt=0.5, lt=1.0, description="Upper percentile, e.g. 0.99")

    @model_validator(mode="after")
    def _something(self) -> Capping:
        if self.max is None and self.min is None and self.winsorize is None:
            raise ValueError("capping needs `max`, `min` or `winsorize`")
        return self


MAX_LEVELS = 50
"""Most levels a categorical covariate may have (each is a variable of every cross moment)."""


class Covariate(Strict):
    """One covariate of a metric's regression adjustment (:mod:`assay.spec.covariates`)."""

    metric: str | None = Field(None, description="A metric whose pre-period value is used.")
    attribute: Annotated[str | None, Field(pattern=IDENTIFIER)] = Field(
        None, description="A column of the exposure table, or of `source`.")
    prediction: Annotated[str | None, Field(pattern=IDENTIFIER)] = Field(
        None, description="A column of `source` holding a model's prediction (CUPAC).")
    source: str | None = Field(None, description="The declared source the column is read from.")
    levels: list[str | int] | None = Field(
        None, min_length=2, max_length=MAX_LEVELS,
        description="A categorical attribute's values, one-hot encoded (the first: baseline).")
    window: Window | None = Field(
        None, description="Before exposure: the metric's `pre_window`, or the source's rows "
        "in this window (default: every row dated before the first exposure).")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return {"metric": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_kind(self) -> Covariate:
        kinds = [k for k in ("metric", "attribute", "prediction") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("a covariate is exactly one of `metric`, `attribute` or "
                             "`prediction`, e.g. {metric: sessions}")
        if self.prediction is not None and self.source is None:
            raise ValueError("a `prediction` covariate needs `source`: the source holding it")
        if self.metric is not None and (self.source is not None or self.levels is not None):
            raise ValueError("a `metric` covariate takes its source from the metric; drop "
                             "`source`/`levels`")
        if self.levels is not None and self.attribute is None:
            raise ValueError("`levels` belong to a categorical `attribute`")
        if self.levels is not None and len({str(v) for v in self.levels}) != len(self.levels):
            raise ValueError("`levels` must be distinct")
        if self.window is not None and self.window.end > dt.timedelta(0):
            raise ValueError("a covariate's `window` must end at or before the first exposure "
                             "(e.g. [-28d, 0d]): the treatment must not be able to move it")
        if self.window is not None and self.attribute is not None and self.source is None:
            raise ValueError("an exposure attribute is read at the first exposure; `window` "
                             "belongs to `source` attributes, predictions and metrics")
        return self

    @property
    def label(self) -> str:
        """How results name the covariate (levels add ``=value``)."""
        if self.metric is not None:
            return f"{self.metric} (pre)"
        return str(self.attribute or self.prediction)


Aggregation = Literal["sum", "count", "count_distinct", "approx_count_distinct", "avg", "max",
                      "min"]
MetricKind = Literal["mean", "proportion", "ratio", "quantile", "funnel", "retention",
                     "participation"]
QuantileOf = Literal["unit", "event"]


class FunnelStep(Strict):
    """One step of a funnel: the qualifying events of a source (default: the funnel's)."""

    name: Annotated[str, Field(pattern=IDENTIFIER)]
    source: Source | str | None = None
    filter: str | None = Field(None, description="SQL boolean per event")


class MetricSpec(Strict):
    """One metric definition.

    ``mean``: each unit's events in the window are aggregated (``sum`` and ``count`` give 0 to units
    with no events; ``avg``, ``max``, ``min`` leave them out). ``proportion``: a unit converts if it
    has any qualifying event in the window. ``ratio``: sum of a numerator metric over sum of a
    denominator metric, across units. ``quantile``: the ``quantile`` (e.g. 0.95) of each unit's
    aggregated value (``quantile_of: unit``) or of every qualifying event's value
    (``quantile_of: event``, units as clusters), compared between arms.
    """

    name: Annotated[str, Field(pattern=IDENTIFIER)]
    kind: MetricKind = "mean"
    description: str | None = None
    source: Source | str | None = None
    value: str | None = Field(None, description="SQL expression per event; default 1")
    filter: str | None = Field(None, description="SQL boolean per event")
    aggregation: Aggregation = "sum"
    window: Window | None = None
    capping: Capping | None = None
    pre_window: Window | None = Field(None, description="CUPED covariate window, e.g. [-28d, 0d]")
    numerator: str | None = None
    denominator: str | None = None
    higher_is_better: bool = True
    quantile: float | None = Field(
        None, gt=0, lt=1, description="Quantile metrics: the level, e.g. 0.95 for p95."
    )
    quantile_of: QuantileOf = Field(
        "unit", description="Quantile metrics: of per-unit values or of every event's value."
    )
    steps: list[FunnelStep] | None = Field(
        None, description="Funnel metrics: the ordered steps (docs/specs.md, Funnel metrics)."
    )

    @model_validator(mode="after")
    def _activity_fields(self) -> MetricSpec:
        check_activity_fields(self)
        return self

    @model_validator(mode="after")
    def _quantile_fields(self) -> MetricSpec:
        if self.kind != "quantile":
            if self.quantile is not None or self.quantile_of != "unit":
                raise ValueError("`quantile`/`quantile_of` belong to quantile metrics")
            return self
        if self.quantile is None:
            raise ValueError("a quantile metric needs `quantile`, e.g. 0.95 for p95")
        if self.capping is not None or self.pre_window is not None:
            raise ValueError("a quantile metric takes no `capping` or `pre_window` "
                             "(a quantile is robust to outliers and has no CUPED here)")
        if self.quantile_of == "event" and (self.aggregation != "sum" or self.value is None):
            raise ValueError("an event-level quantile needs a `value` and no `aggregation`: "
                             "it is the quantile of every qualifying event's value")
        return self
    dbt: str | None = Field(
        None, description="A dbt metric this one takes its definition from (docs/dbt.md)."
    )
    covariates: list[Covariate] = Field(
        default_factory=list,
        description="Regression adjustment on these pre-exposure variables (docs/specs.md).",
    )

    @model_validator(mode="after")
    def _kind_fields(self) -> MetricSpec:
        if self.dbt is not None and self.source is None and self.numerator is None:
            return self._dbt_fields()
        if self.kind == "ratio":
            if not self.numerator or not self.denominator:
                raise ValueError(
                    "a ratio metric needs `numerator` and `denominator` (metric names)"
                )
            if self.source is not None or self.value is not None:
                raise ValueError("a ratio metric takes its source from its numerator/denominator")
        else:
            stepped = self.kind == "funnel" and self.steps and all(s.source for s in self.steps)
            if self.source is None and not stepped:
                raise ValueError(f"a {self.kind} metric needs a `source`")
            if self.numerator or self.denominator:
                raise ValueError("`numerator`/`denominator` belong to ratio metrics")
        if self.aggregation in DISTINCT_COUNTS and self.value is None:
            raise ValueError(f"`{self.aggregation}` counts the distinct values of `value` per "
                             "unit (e.g. value: item_id); give a `value`")
        if self.pre_window is not None and self.pre_window.end > dt.timedelta(0):
            raise ValueError(
                "`pre_window` must end at or before the first exposure (e.g. [-28d, 0d])"
            )
        return self

    def _dbt_fields(self) -> MetricSpec:
        """An unresolved ``dbt:`` metric: its definition comes from dbt, the rest from here."""
        own = [f for f in ("value", "filter", "numerator", "denominator") if getattr(self, f)]
        own += [f for f in ("kind", "aggregation") if f in self.model_fields_set]
        if own:
            raise ValueError(
                f"a `dbt:` metric takes `{own[0]}` from its dbt definition; keep only the "
                "analysis settings (window, pre_window, capping, higher_is_better, description)"
            )
        return self


class MetricsFile(Strict):
    """A ``metrics/*.yml`` file: a list of metrics."""

    metrics: list[MetricSpec]


class Variant(Strict):
    """An arm of an experiment."""

    name: Annotated[str, Field(min_length=1)]
    weight: Annotated[float, BeforeValidator(_no_bool)] = Field(
        gt=0, le=1e6, allow_inf_nan=False,
        description="Intended share; weights are normalised to sum 1.")
    control: bool = False


class MetricRefs(Strict):
    """The metrics an experiment reads, by role."""

    primary: list[str] = Field(default_factory=list)
    secondary: list[str] = Field(default_factory=list)
    guardrails: list[str] = Field(default_factory=list)

    def all(self) -> list[tuple[str, str]]:
        """``(metric, role)`` pairs in report order, each metric once."""
        seen: set[str] = set()
        out: list[tuple[str, str]] = []
        for role, names in (
            ("primary", self.primary),
            ("secondary", self.secondary),
            ("guardrail", self.guardrails),
        ):
            for name in names:
                if name not in seen:
                    seen.add(name)
                    out.append((name, role))
        return out


Correction = Literal["none", "bonferroni", "holm", "bh", "by"]


class SequentialSpec(Strict):
    """How results may be read before the planned end (peeking made safe).

    ``msprt`` and ``confidence_sequence`` give always-valid p-values and intervals at any
    look; ``obf`` and ``pocock`` are group sequential designs (Lan-DeMets alpha spending) over
    pre-registered looks, which need ``planned_sample_size`` and ``looks``.
    """

    method: Literal["msprt", "confidence_sequence", "obf", "pocock"]
    mixing_lift: float = Field(
        0.05, gt=0, description="mSPRT: sd of the mixing prior as a share of the control mean.")
    tuning_n: float | None = Field(
        None, gt=0, description="Confidence sequence: the units at which it is tightest "
        "(default: planned_sample_size).")
    looks: int | None = Field(None, ge=1, le=50, description="Group sequential: planned looks.")


class BayesianSpec(Strict):
    """A normal-normal model on each metric's relative lift."""

    prior_mean: float = 0.0
    prior_sd: float | None = Field(None, gt=0, description="None: a flat prior.")


class ExperimentSpec(Strict):
    """One experiment; the id is the file name (``experiments/<id>.yml``).

    Assignment fields (``salt``, ``variants``, ``traffic``, ``layer``, ``targeting``, ``forced``)
    drive the SDK and the SQL twin of the hash; the analysis fields drive ``assay analyze``.
    """

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]+$")]
    name: str | None = None
    hypothesis: str | None = None
    owner: str | None = None
    salt: str | None = Field(None, max_length=256,
                             description="Hash salt; defaults to the experiment id.")
    hash_version: Literal[1] = Field(
        1, description="Assignment hash version (docs/assignment.md); a released one never changes."
    )
    unit: str = Field("user", description="Randomisation unit type (user, account, device ...).")
    variants: list[Variant]
    traffic: float = Field(1.0, gt=0, le=1, description="Share of eligible units that enter.")
    layer: str | None = Field(None, description="Mutually exclusive layer (namespace) name.")
    layer_range: tuple[int, int] | None = Field(
        None, description="Buckets [start, end) of the layer's 10,000 this experiment owns."
    )
    targeting: str | None = Field(None, description="SQL boolean over unit attributes.")
    forced: dict[str, str] = Field(default_factory=dict, description="unit id -> variant (QA).")
    holdout: str | None = Field(
        None, description="Id of a holdout experiment; units in its control arm are left out."
    )
    start: Annotated[dt.date | dt.datetime | None, BeforeValidator(_a_date)] = None
    end: Annotated[dt.date | dt.datetime | None, BeforeValidator(_a_date)] = None
    metrics: MetricRefs = Field(default_factory=MetricRefs)
    alpha: float = Field(0.05, gt=0, lt=0.5)
    cuped: bool = False
    correction: Correction = "holm"
    planned_sample_size: int | None = Field(None, gt=0)
    mde: float | None = Field(
        None, gt=0, description="Minimum effect of interest, relative (0.02 = 2%): a significant "
        "effect smaller than this is flagged as not worth shipping on significance alone.")
    segments: list[Annotated[str, Field(pattern=IDENTIFIER)]] = Field(default_factory=list)
    sequential: SequentialSpec | None = None
    bayesian: BayesianSpec | None = None
    bootstrap: list[str] = Field(
        default_factory=list,
        description="Metrics also given Poisson-bootstrap percentile intervals (in-warehouse).",
    )
    bootstrap_replicates: int = Field(200, ge=50, le=5000)
    lift_interval: Literal["delta", "fieller", "log"] = Field(
        "delta",
        description="Relative-lift interval: delta method, Fieller's, or delta on log(t/c).",
    )
    rank_tests: list[str] = Field(
        default_factory=list,
        description="Metrics also compared by a Mann-Whitney test (rank sums in the warehouse).",
    )
    covariates: list[Covariate] = Field(
        default_factory=list,
        description="Covariates of every mean and proportion metric's regression adjustment.",
    )
    stratify_by: Annotated[str | None, Field(pattern=IDENTIFIER)] = Field(
        None, description="Post-stratify mean and proportion metrics on this exposure column.")

    @field_validator("variants")
    @classmethod
    def _variants(cls, variants: list[Variant]) -> list[Variant]:
        if len(variants) < 2:
            raise ValueError("an experiment needs at least two variants")
        names = [v.name for v in variants]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"variant names must be unique; repeated: {', '.join(dupes)}")
        controls = [v.name for v in variants if v.control]
        if len(controls) > 1:
            raise ValueError(f"only one variant can be the control; got {', '.join(controls)}")
        return variants

    @model_validator(mode="after")
    def _sequential_design(self) -> ExperimentSpec:
        design = self.sequential
        grouped = design is not None and design.method in ("obf", "pocock")
        if design is not None and grouped and (
            self.planned_sample_size is None or design.looks is None
        ):
            raise ValueError(f"a group sequential design ({design.method}) needs "
                             "`planned_sample_size` and `sequential.looks`")
        return self

    @model_validator(mode="after")
    def _dates(self) -> ExperimentSpec:
        if (
            self.start is not None
            and self.end is not None
            and _as_datetime(self.end, True) <= _as_datetime(self.start, False)
        ):
            raise ValueError("`end` must be after `start`")
        if self.layer_range is not None and self.layer is None:
            raise ValueError("`layer_range` needs `layer` (the layer whose buckets it owns)")
        if self.layer_range is not None:
            lo, hi = self.layer_range
            if not 0 <= lo < hi <= 10_000:
                raise ValueError("`layer_range` must satisfy 0 <= start < end <= 10000")
        return self

    @property
    def control(self) -> Variant:
        """The control arm: the one marked ``control: true``, else the first listed."""
        return next((v for v in self.variants if v.control), self.variants[0])

    @property
    def treatments(self) -> list[Variant]:
        """The non-control arms, in spec order."""
        return [v for v in self.variants if v.name != self.control.name]

    @property
    def hash_salt(self) -> str:
        """The salt actually hashed: ``salt`` or, by default, the experiment id."""
        return self.salt if self.salt is not None else self.id

    def weights(self) -> dict[str, float]:
        """Intended shares, normalised to sum 1."""
        total = sum(v.weight for v in self.variants)
        return {v.name: v.weight / total for v in self.variants}

    def start_at(self) -> dt.datetime | None:
        """Start as a timestamp (a date means its midnight, UTC-naive)."""
        return None if self.start is None else _as_datetime(self.start, False)

    def end_at(self) -> dt.datetime | None:
        """Exclusive end as a timestamp (a date means the whole day is included)."""
        return None if self.end is None else _as_datetime(self.end, True)


class ExposureSource(Strict):
    """Where exposures live and what their columns are called."""

    table: Annotated[str | None, AfterValidator(table_name)] = "exposures"
    sql: str | None = None
    experiment_id: str = "experiment_id"
    variant: str = "variant"
    unit_id: str = "unit_id"
    timestamp: str = "timestamp"

    @model_validator(mode="after")
    def _one_of(self) -> ExposureSource:
        if self.sql is not None:
            object.__setattr__(self, "table", None)
        if self.table is None and self.sql is None:
            raise ValueError("exposures need `table` or `sql`")
        return self


class DbtSpec(Strict):
    """``dbt:`` in ``assay_project.yml``: the dbt project whose artifacts assay reads."""

    project_dir: str = Field("dbt", description="The dbt project, relative to this project.")
    manifest: str = Field(
        "target/manifest.json", description="dbt's manifest, relative to `project_dir`."
    )
    target: str | None = Field(None, description="dbt target (`--target`) when assay runs dbt.")
    profiles_dir: str | None = Field(
        None, description="Where profiles.yml is, relative to `project_dir` (default: it)."
    )
    parse: bool = Field(False, description="Run `dbt parse` before reading the manifest.")
    entity: str | None = Field(
        None,
        description="The entity that is the experiment unit (default: each semantic model's "
        "primary entity).",
    )
    window: Window | None = Field(None, description="Window of every imported dbt metric.")
    pre_window: Window | None = Field(None, description="CUPED window of every dbt metric.")


class ProjectSpec(Strict):
    """``assay_project.yml``."""

    name: Annotated[str, Field(min_length=1)]
    warehouse: str = Field(
        "duckdb:///warehouse.duckdb",
        description="Connection URL; a relative DuckDB path is relative to the project.",
    )
    exposures: ExposureSource = Field(default_factory=ExposureSource)
    sources: dict[str, Source] = Field(default_factory=dict)
    results_schema: str | None = Field(None, pattern=IDENTIFIER,
                                       description="Schema of the results tables.")
    results_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]*$")] = Field(
        "assay_", description="Name prefix of the results tables (assay_analyses ...).")
    dbt: DbtSpec | None = Field(None, description="A dbt project to read metrics from.")


def _as_datetime(value: dt.datetime | dt.date, end: bool) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return (
            value.replace(tzinfo=None)
            if value.tzinfo is None
            else value.astimezone(dt.UTC).replace(tzinfo=None)
        )
    moment = dt.datetime.combine(value, dt.time())
    return moment + dt.timedelta(days=1) if end else moment
