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
)
from assay.spec.models import MetricRefs
from assay.spec.project import Project
from assay.stats.moments import N_COLUMN, cross_column, sum_column
from assay.stats.quantiles import band_spread

VALUE = "v"
N_VALUES = "n_values"
COLUMNS = ("q", "q_lo", "q_hi")


def compile_quantiles(
    project: Project, experiment_id: str, quantile: QuantilePlan, dialect: str | None = None
) -> exp.Query:
    """The order statistics of one quantile metric, one row per arm (see the module)."""
    dialect = dialect or project.dialect
    experiment = project.experiment(experiment_id).model_copy(
        update={"metrics": MetricRefs(primary=[quantile.metric.name]), "segments": []}
    )
    exposures = exposures_of(project, experiment)
    measure = quantile.measure
    ctes: list[tuple[str, exp.Query]]
    if measure.aggregation == "event":
        ctes = [("e", exposures), ("units", units_query(experiment, dialect)),
                ("vals", source_events(experiment, measure, dialect))]
    else:
        unit_plan = AnalysisPlan(
            experiment,
            [MetricPlan(quantile.metric, quantile.role, 0, {"y": measure}, cuped=False)],
            {measure: "a0"},
        )
        value = col("a0")
        vals = (
            exp.select(col(UNIT), col(VARIANT), alias(value, VALUE))
            .from_("per_unit")
            .where(value.copy().is_(exp.null()).not_())
        )
        ctes = [*per_unit_ctes(project, unit_plan, exposures, dialect), ("vals", vals)]
    nu = quantile.metric.quantile or 0.5
    ctes += [("ranks", _ranks(nu)), ("ranked", _ranked()), ("picked", _picked())]
    if measure.aggregation == "event":
        ctes += [("clusters", _clusters()), ("cluster_stats", _cluster_stats())]
        final = (
            exp.select(col(VARIANT, "p"), col(N_VALUES, "p"), *(col(c, "p") for c in COLUMNS),
                       *_cluster_columns())
            .from_(exp.to_table("picked").as_("p", quoted=True))
            .join(exp.to_table("cluster_stats").as_("c", quoted=True),
                  on=col(VARIANT, "c").eq(col(VARIANT, "p")), join_type="left")
        )
    else:
        final = exp.select(col(VARIANT), col(N_VALUES), *(col(c) for c in COLUMNS)).from_("picked")
    query: exp.Query = final.order_by(col(VARIANT))
    for name, cte in ctes:
        query = query.with_(name, cte)
    return query


def _double(value: exp.Expr | float) -> exp.Expr:
    this = exp.Literal.number(repr(value)) if isinstance(value, float) else value
    return exp.cast(this, exp.DataType.Type.DOUBLE)


def _ranks(nu: float) -> exp.Select:
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
        exp.select(col(VARIANT), alias(exp.Count(this=exp.Star()), N_VALUES))
        .from_("vals")
        .group_by(col(VARIANT))
    )
    ceilings = exp.select(
        col(VARIANT),
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
        col(VARIANT), col(N_VALUES), *(alias(clipped(k), k) for k in raw)
    ).from_(ceilings.subquery("ceilings"))


def _ranked() -> exp.Select:
    order = exp.Order(expressions=[exp.Ordered(this=col(VALUE))])
    number = exp.Window(this=exp.RowNumber(), partition_by=[col(VARIANT)], order=order)
    return exp.select(col(VARIANT), col(VALUE), alias(number, "r")).from_("vals")


def _picked() -> exp.Select:
    """The values at ranks ``k``, ``k_lo``, ``k_hi`` per arm."""

    def at(rank: str) -> exp.Expr:
        hit = exp.Case().when(col("r", "x").eq(col(rank, "k")), col(VALUE, "x"))
        return exp.Max(this=hit)

    return (
        exp.select(
            col(VARIANT, "k"),
            col(N_VALUES, "k"),
            alias(at("k"), "q"),
            alias(at("k_lo"), "q_lo"),
            alias(at("k_hi"), "q_hi"),
        )
        .from_(exp.to_table("ranked").as_("x", quoted=True))
        .join(exp.to_table("ranks").as_("k", quoted=True),
              on=col(VARIANT, "k").eq(col(VARIANT, "x")), join_type="inner")
        .group_by(col(VARIANT, "k"), col(N_VALUES, "k"))
    )


def _clusters() -> exp.Select:
    """Per unit: its events ``m`` and those at or below its arm's quantile ``s``."""
    below = exp.Case().when(
        exp.LTE(this=col(VALUE, "e"), expression=col("q", "p")), exp.Literal.number(1)
    ).else_(exp.Literal.number(0))
    return (
        exp.select(
            col(VARIANT, "e"),
            col(UNIT, "e"),
            alias(exp.cast(exp.Count(this=exp.Star()), exp.DataType.Type.DOUBLE), "m"),
            alias(exp.cast(exp.Sum(this=below), exp.DataType.Type.DOUBLE), "s"),
        )
        .from_(exp.to_table("vals").as_("e", quoted=True))
        .join(exp.to_table("picked").as_("p", quoted=True),
              on=col(VARIANT, "p").eq(col(VARIANT, "e")), join_type="inner")
        .group_by(col(VARIANT, "e"), col(UNIT, "e"))
    )


def _cluster_stats() -> exp.Select:
    sums = [alias(exp.Sum(this=col(v)), sum_column(v)) for v in ("m", "s")]
    cross = [
        alias(exp.Sum(this=exp.Mul(this=col(a), expression=col(b))), cross_column(a, b))
        for a, b in (("m", "m"), ("m", "s"), ("s", "s"))
    ]
    return (
        exp.select(col(VARIANT), alias(exp.Count(this=exp.Star()), N_COLUMN), *sums, *cross)
        .from_("clusters")
        .group_by(col(VARIANT))
    )


def _cluster_columns() -> list[exp.Expr]:
    names = [N_COLUMN, sum_column("m"), sum_column("s"),
             *(cross_column(a, b) for a, b in (("m", "m"), ("m", "s"), ("s", "s")))]
    return [col(name, "c") for name in names]
