"""Poisson-bootstrap replicate sums, computed in the warehouse in one scan of the units.

Each unit gets, in replicate ``b``, a Poisson(1) weight drawn from the hash of
``'assay-bootstrap:<b>' : <unit id>`` (the assignment hash, version 1, so every engine and the
Python twin :func:`assay.stats.nonparametric.poisson_weights` draw the same weights): the
bucket in ``[0, 10000)`` divided by 10,000 is a uniform ``u``; the weight is the number of
Poisson(1) CDF values at or below ``u``. Per variant and replicate the query returns
``num = sum(w * y)`` and ``den = sum(w)`` (``sum(w * num)``, ``sum(w * den)`` for a ratio).

Cost: units x replicates hashes; meant for a few key metrics, not every metric of a report.
"""

from __future__ import annotations

from sqlglot import exp

from assay.assign.sql import bucket_expression
from assay.metrics.compile import per_unit_ctes
from assay.metrics.plan import plan_experiment
from assay.metrics.scan import UNIT, VARIANT, col, exposures_of, with_ctes
from assay.spec.models import MetricRefs
from assay.spec.project import Project
from assay.stats.nonparametric import POISSON1_CDF

SALT_PREFIX = "assay-bootstrap:"
REPLICATE = "b"


def weight_expression(replicate: exp.Expr, unit: exp.Expr, dialect: str) -> exp.Expr:
    """The unit's Poisson(1) weight in ``replicate`` (see the module docstring)."""
    salt = exp.DPipe(
        this=exp.Literal.string(SALT_PREFIX),
        expression=exp.cast(replicate, exp.DataType.build("TEXT")),
    )
    uniform = exp.Div(
        this=bucket_expression(salt, unit, dialect),  # type: ignore[arg-type]
        expression=exp.Literal.number(10000.0),
    )
    case = exp.Case()
    for weight, cdf in enumerate(POISSON1_CDF[:-1]):
        if cdf >= 1.0 - 1e-4:  # the hash's resolution: no uniform can reach further
            break
        case = case.when(
            exp.LT(this=uniform.copy(), expression=exp.Literal.number(cdf)),
            exp.Literal.number(weight),
        )
    return case.else_(exp.Literal.number(weight))


def compile_replicates(
    project: Project, experiment_id: str, metric: str, replicates: int, dialect: str | None = None
) -> exp.Query:
    """Rows ``(variant, b, num, den, full_num, full_den)`` for ``b`` in ``0 .. replicates - 1``."""
    dialect = dialect or project.dialect
    experiment = project.experiment(experiment_id).model_copy(
        update={"metrics": MetricRefs(primary=[metric]), "segments": [], "cuped": False}
    )
    plan = plan_experiment(project, experiment)
    variables = plan.metrics[0].variables
    num: exp.Expr
    den: exp.Expr
    present: exp.Expr
    if "y" in variables:
        num, den = col(plan.measures[variables["y"]]), exp.Literal.number(1)
        present = col(plan.measures[variables["y"]]).is_(exp.null()).not_()
    else:
        num, den = col(plan.measures[variables["num"]]), col(plan.measures[variables["den"]])
        present = exp.true()
    reps = exp.values([(i,) for i in range(replicates)], alias="r", columns=[REPLICATE])
    weight = weight_expression(col(REPLICATE, "r"), col(UNIT, "p"), dialect)
    weighted = (
        exp.select(
            col(VARIANT, "p"),
            col(REPLICATE, "r"),
            exp.alias_(weight, "w", quoted=True),
            exp.alias_(num, "y_num", quoted=True),
            exp.alias_(den, "y_den", quoted=True),
        )
        .from_(exp.to_table("per_unit").as_("p", quoted=True))
        .join(reps, join_type="cross")
        .where(present)
    )
    query = (
        exp.select(
            col(VARIANT),
            col(REPLICATE),
            exp.alias_(
                exp.Sum(this=exp.Mul(this=col("w"), expression=col("y_num"))), "num", quoted=True
            ),
            exp.alias_(
                exp.Sum(this=exp.Mul(this=col("w"), expression=col("y_den"))), "den", quoted=True
            ),
            # unweighted: the same in every replicate, the point estimate's sums
            exp.alias_(exp.Sum(this=col("y_num")), "full_num", quoted=True),
            exp.alias_(exp.Sum(this=col("y_den")), "full_den", quoted=True),
        )
        .from_("weighted")
        .group_by(col(VARIANT), col(REPLICATE))
        .order_by(col(VARIANT), col(REPLICATE))
    )
    ctes = per_unit_ctes(project, plan, exposures_of(project, experiment), dialect)
    return with_ctes(query, [*ctes, ("weighted", weighted)])
