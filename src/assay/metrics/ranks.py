"""Rank sums for the Mann-Whitney test, computed in the warehouse in one pass.

Per distinct per-unit value, the count in control and in each treatment; a running sum over
the sorted values gives each value's mid-rank within the pooled (control + treatment) sample;
the treatment's rank sum and the tie term ``sum(t^3 - t)`` follow. Python sees one row.
"""

from __future__ import annotations

from sqlglot import exp

from assay.metrics.compile import per_unit_ctes
from assay.metrics.plan import plan_experiment
from assay.metrics.scan import col, exposures_of, with_ctes
from assay.spec.models import MetricRefs
from assay.spec.project import Project

VALUE = "v"


def compile_rank_sums(
    project: Project, experiment_id: str, metric: str, dialect: str | None = None
) -> exp.Query:
    """One row: ``n0`` (control), and per treatment ``i`` (1-based, spec order) ``n{i}``,
    ``r{i}`` (its rank sum in the pooled pair) and ``t{i}`` (the pair's tie term).

    Units without a value (an ``avg`` metric's units with no events) are left out, as in the
    mean comparison.
    """
    dialect = dialect or project.dialect
    # Only this metric, overall, without the pre-period (ranks need no covariate).
    experiment = project.experiment(experiment_id).model_copy(
        update={"metrics": MetricRefs(primary=[metric]), "segments": [], "cuped": False}
    )
    plan = plan_experiment(project, experiment)
    y = col(plan.measures[plan.metrics[0].variables["y"]])
    arms = [experiment.control.name] + [t.name for t in experiment.treatments]

    def count(arm: str) -> exp.Expr:
        hit = exp.Case().when(col("variant").eq(exp.Literal.string(arm)), exp.Literal.number(1))
        return exp.Sum(this=hit.else_(exp.Literal.number(0)))

    counts = (
        exp.select(
            exp.alias_(y.copy(), VALUE, quoted=True),
            *(exp.alias_(count(a), f"n{i}", quoted=True) for i, a in enumerate(arms)),
        )
        .from_("per_unit")
        .where(y.copy().is_(exp.null()).not_())
        .group_by(y.copy())
    )
    ranked = exp.select(col(VALUE), *(col(f"n{i}") for i in range(len(arms))))
    final: list[exp.Expr] = [exp.alias_(exp.Sum(this=col("n0")), "n0", quoted=True)]
    for i in range(1, len(arms)):
        pair = exp.cast(exp.Add(this=col("n0"), expression=col(f"n{i}")), exp.DataType.Type.DOUBLE)
        running = exp.Window(
            this=exp.Sum(this=pair.copy()),
            # NULLs were filtered out; stating an order keeps every dialect from warning.
            order=exp.Order(expressions=[exp.Ordered(this=col(VALUE), nulls_first=True)]),
            spec=exp.WindowSpec(
                kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"
            ),
        )
        ranked = ranked.select(
            exp.alias_(exp.Sub(this=running, expression=pair.copy()), f"b{i}", quoted=True)
        )
        mid_rank = exp.Add(
            this=col(f"b{i}"),
            expression=exp.Div(
                this=exp.paren(exp.Add(this=_pair(i), expression=exp.Literal.number(1))),
                expression=exp.Literal.number(2.0),
            ),
        )
        cube = exp.Mul(this=exp.Mul(this=_pair(i), expression=_pair(i)), expression=_pair(i))
        final += [
            exp.alias_(exp.Sum(this=col(f"n{i}")), f"n{i}", quoted=True),
            exp.alias_(
                exp.Sum(this=exp.Mul(this=col(f"n{i}"), expression=exp.paren(mid_rank))),
                f"r{i}",
                quoted=True,
            ),
            exp.alias_(exp.Sum(this=exp.Sub(this=cube, expression=_pair(i))), f"t{i}", quoted=True),
        ]
    ctes = per_unit_ctes(project, plan, exposures_of(project, experiment), dialect)
    return with_ctes(exp.select(*final).from_("ranked"),
                     [*ctes, ("counts", counts), ("ranked", ranked.from_("counts"))])


def _pair(i: int) -> exp.Expr:
    """``(n0 + ni)`` as a double: cubes of large counts overflow 64-bit integers."""
    return exp.paren(
        exp.cast(exp.Add(this=col("n0"), expression=col(f"n{i}")), exp.DataType.Type.DOUBLE)
    )
