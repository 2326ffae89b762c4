"""Order statistics for quantile metrics, computed in the warehouse in one statement.

Per arm: ``n`` observations (units with a value, or qualifying events with a value), the
quantile ``x_(k)`` and the band ``x_(k_lo)``, ``x_(k_hi)`` of
:func:`assay.stats.quantiles.band_ranks` (the ranks are computed in SQL with the same
double-precision operations). Values are ranked with ``ROW_NUMBER()`` per arm, so the order
statistics are exact on every engine (no approximate percentile function is used; the price is
a sort of the arm's values). Event-level quantiles add, per unit, the events ``m`` and those at
or below the arm's quantile ``s``, reduced to the moments contract (``n``, ``s__m``, ``s__s``,
``ss__m__m``, ``ss__m__s``, ``ss__s__s``) for the clustered variance.

Python sees one row per arm: ``variant, n_values, q, q_lo, q_hi`` (and the cluster moments).
"""

from __future__ import annotations

from sqlglot import exp

from assay.metrics.compile import per_unit_ctes
from assay.metrics.plan import AnalysisPlan, MetricPlan, QuantilePlan
from assay.metrics.scan import (
    UNIT,
    VARIANT,
    alias,
    col,
    exposures_of,
    source_events,
    units_query,
    with_ctes,
)
from assay.spec.models import MetricRefs
from assay.spec.project import Project
from assay.stats.moments import N_COLUMN, cross_column, sum_column
from assay.stats.quantiles import band_spread

VALUE = "v"
N_VALUES = "n_values"
COLUMNS = ("q", "q_lo", "q_hi")


def compile_quantiles(
    project: Project,
    experiment_id: str,
    quantile: QuantilePlan,
    dialect: str | None = None,
    segment: str | None = None,
) -> exp.Query:
    """The order statistics of one quantile metric, one row per arm (see the module).

    With ``segment`` (one of the experiment's segments): one row per arm and value of it (in
    the segment's column; NULL is a value of its own), each cell ranked on its own.
    """
    dialect = dialect or project.dialect
    experiment = project.experiment(experiment_id).model_copy(
        update={"metrics": MetricRefs(primary=[quantile.metric.name]),
                "segments": [] if segment is None else [segment]}
    )
    keys = [VARIANT] if segment is None else [VARIANT, segment]
    exposures = exposures_of(project, experiment)
    measure = quantile.measure
    ctes: list[tuple[str, exp.Query]]
    if measure.aggregation == "event":
        events = source_events(experiment, measure, dialect)
        ctes = [("e", exposures), ("units", units_query(experiment, dialect)),
                ("vals", events if segment is None else _with_segment(events, segment))]
    else:
        unit_plan = AnalysisPlan(
            experiment,
            [MetricPlan(quantile.metric, quantile.role, 0, {"y": measure}, cuped=False)],
            {measure: "a0"},
        )
        value = col("a0")
        vals = (
            exp.select(col(UNIT), *(col(k) for k in keys), alias(value, VALUE))
            .from_("per_unit")
            .where(value.copy().is_(exp.null()).not_())
        )
        ctes = [*per_unit_ctes(project, unit_plan, exposures, dialect), ("vals", vals)]
    nu = quantile.metric.quantile or 0.5
    ctes += [("ranks", _ranks(nu, keys)), ("ranked", _ranked(keys)),
             ("picked", _picked(keys))]
    if measure.aggregation == "event":
        ctes += [("clusters", _clusters(keys)), ("cluster_stats", _cluster_stats(keys))]
        final = (
            exp.select(*(col(k, "p") for k in keys), col(N_VALUES, "p"),
                       *(col(c, "p") for c in COLUMNS), *_cluster_columns())
            .from_(exp.to_table("picked").as_("p", quoted=True))
            .join(exp.to_table("cluster_stats").as_("c", quoted=True),
                  on=_same(keys, "c", "p"), join_type="left")
        )
    else:
        final = exp.select(*(col(k) for k in keys), col(N_VALUES),
                           *(col(c) for c in COLUMNS)).from_("picked")
    return with_ctes(final.order_by(*(col(k) for k in keys)), ctes)


def _same(keys: list[str], left: str, right: str) -> exp.Expr:
    """``left`` and ``right`` agree on every key (NULL segment values agree with each other)."""
    first, *others = keys
    out: exp.Expr = col(first, left).eq(col(first, right))
    for key in others:
        out = exp.and_(out, exp.NullSafeEQ(this=col(key, left), expression=col(key, right)))
    return out


def _with_segment(events: exp.Select, segment: str) -> exp.Select:
    """Qualifying events with their unit's segment value (from ``units``)."""
    return (
        exp.select(col(UNIT, "ev"), col(VARIANT, "ev"), col(segment, "su"), col(VALUE, "ev"))
        .from_(events.subquery("ev"))
        .join(exp.to_table("units").as_("su", quoted=True),
              on=col(UNIT, "su").eq(col(UNIT, "ev")), join_type="inner")
    )


def _double(value: exp.Expr | float) -> exp.Expr:
    this = exp.Literal.number(repr(value)) if isinstance(value, float) else value
    return exp.cast(this, exp.DataType.Type.DOUBLE)


def _ranks(nu: float, keys: list[str]) -> exp.Select:
    """Per arm: ``n`` and the 1-based ranks ``k``, ``k_lo``, ``k_hi`` (clipped to ``[1, n]``)."""
    n = col(N_VALUES)
    nd = _double(n.copy())
    centre = exp.Mul(this=nd, expression=_double(nu))
    spread = exp.Mul(this=_double(band_spread(nu)), expression=exp.Sqrt(this=nd.copy()))
    raw = {
        "k": centre.copy(),
        "k_lo": exp.Sub(this=centre.copy(), expression=spread.copy()),
        "k_hi": exp.Add(this=centre.copy(), expression=spread.copy()),
    }
    counts = (
        exp.select(*(col(k) for k in keys), alias(exp.Count(this=exp.Star()), N_VALUES))
        .from_("vals")
        .group_by(*(col(k) for k in keys))
    )
    ceilings = exp.select(
        *(col(k) for k in keys),
        col(N_VALUES),
        *(alias(exp.cast(exp.Ceil(this=v), exp.DataType.Type.BIGINT), f"{k}_raw")
          for k, v in raw.items()),
    ).from_(counts.subquery("counted"))

    def clipped(name: str) -> exp.Expr:
        value = col(f"{name}_raw")
        one = exp.Literal.number(1)
        return (
            exp.Case()
            .when(exp.LT(this=value.copy(), expression=one.copy()), one.copy())
            .when(exp.GT(this=value.copy(), expression=n.copy()), n.copy())
            .else_(value.copy())
        )

    return exp.select(
        *(col(k) for k in keys), col(N_VALUES), *(alias(clipped(k), k) for k in raw)
    ).from_(ceilings.subquery("ceilings"))


def _ranked(keys: list[str]) -> exp.Select:
    order = exp.Order(expressions=[exp.Ordered(this=col(VALUE))])
    number = exp.Window(this=exp.RowNumber(), partition_by=[col(k) for k in keys], order=order)
    return exp.select(*(col(k) for k in keys), col(VALUE), alias(number, "r")).from_("vals")


def _picked(keys: list[str]) -> exp.Select:
    """The values at ranks ``k``, ``k_lo``, ``k_hi`` per arm."""

    def at(rank: str) -> exp.Expr:
        hit = exp.Case().when(col("r", "x").eq(col(rank, "k")), col(VALUE, "x"))
        return exp.Max(this=hit)

    return (
        exp.select(
            *(col(k, "k") for k in keys),
            col(N_VALUES, "k"),
            alias(at("k"), "q"),
            alias(at("k_lo"), "q_lo"),
            alias(at("k_hi"), "q_hi"),
        )
        .from_(exp.to_table("ranked").as_("x", quoted=True))
        .join(exp.to_table("ranks").as_("k", quoted=True),
              on=_same(keys, "k", "x"), join_type="inner")
        .group_by(*(col(k, "k") for k in keys), col(N_VALUES, "k"))
    )


def _clusters(keys: list[str]) -> exp.Select:
    """Per unit: its events ``m`` and those at or below its arm's quantile ``s``."""
    below = exp.Case().when(
        exp.LTE(this=col(VALUE, "e"), expression=col("q", "p")), exp.Literal.number(1)
    ).else_(exp.Literal.number(0))
    return (
        exp.select(
            *(col(k, "e") for k in keys),
            col(UNIT, "e"),
            alias(exp.cast(exp.Count(this=exp.Star()), exp.DataType.Type.DOUBLE), "m"),
            alias(exp.cast(exp.Sum(this=below), exp.DataType.Type.DOUBLE), "s"),
        )
        .from_(exp.to_table("vals").as_("e", quoted=True))
        .join(exp.to_table("picked").as_("p", quoted=True),
              on=_same(keys, "p", "e"), join_type="inner")
        .group_by(*(col(k, "e") for k in keys), col(UNIT, "e"))
    )


def _cluster_stats(keys: list[str]) -> exp.Select:
    sums = [alias(exp.Sum(this=col(v)), sum_column(v)) for v in ("m", "s")]
    cross = [
        alias(exp.Sum(this=exp.Mul(this=col(a), expression=col(b))), cross_column(a, b))
        for a, b in (("m", "m"), ("m", "s"), ("s", "s"))
    ]
    return (
        exp.select(*(col(k) for k in keys), alias(exp.Count(this=exp.Star()), N_COLUMN), *sums,
                   *cross)
        .from_("clusters")
        .group_by(*(col(k) for k in keys))
    )


def _cluster_columns() -> list[exp.Expr]:
    names = [N_COLUMN, sum_column("m"), sum_column("s"),
             *(cross_column(a, b) for a, b in (("m", "m"), ("m", "s"), ("s", "s")))]
    return [col(name, "c") for name in names]
