"""A/A replay SQL: a metric's past units re-split by many salts in one warehouse pass.

The population and the per-unit values are those of :func:`assay.metrics.compile.compile_history`
(the units seen in a past period, each one's first appearance playing its exposure, the metric's
window and CUPED pre-period as an experiment would read them). Every unit is then hashed once per
salt ``aa-replay:<k>`` with assay's own bucket function (:func:`assay.assign.sql.bucket_expression`)
and split 50/50, and one ``GROUP BY (k, variant)`` returns each split's sufficient statistics:
``2 x splits`` rows, whatever the number of units.
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from assay.assign.hashing import BUCKETS
from assay.assign.sql import bucket_expression
from assay.metrics.compile import metric_statistics, per_unit_ctes
from assay.metrics.plan import AnalysisPlan, plan_experiment
from assay.metrics.scan import TS, UNIT, VARIANT, alias, col, relation, with_ctes
from assay.spec.models import ExperimentSpec
from assay.spec.project import Project
from assay.spec.sqlcheck import parse_expression

CONTROL, TREATMENT = "control", "treatment"
SALT_PREFIX = "aa-replay:"
SPLIT = "k"
CLUSTER = "aa_cluster"


def replay_experiment(metric: str, start: dt.datetime, end: dt.datetime,
                      cluster: str | None = None) -> ExperimentSpec:
    """The pseudo-experiment whose per-unit rows the replay splits (``cluster`` rides along as a
    segment, so each unit carries its value at first appearance)."""
    return ExperimentSpec.model_validate({
        "id": "__aa_replay__",
        "variants": [{"name": CONTROL, "weight": 1, "control": True},
                     {"name": TREATMENT, "weight": 1}],
        "start": start, "end": end, "metrics": {"primary": [metric]}, "cuped": True,
        "segments": [CLUSTER] if cluster else [],
    })


def compile_replay(
    project: Project,
    metric: str,
    start: dt.datetime,
    end: dt.datetime,
    splits: int,
    *,
    population: str | None = None,
    cluster: str | None = None,
    dialect: str | None = None,
) -> tuple[exp.Query, AnalysisPlan]:
    """SQL of ``splits`` A/A splits of ``metric`` over the units seen in ``[start, end)``.

    Rows: ``k`` (the split), ``variant`` (control / treatment) and the metric's sufficient
    statistics (the compiler's own column names). With ``cluster`` (a SQL expression over the
    population rows, e.g. ``country`` or ``account_id``), the hash takes the unit's cluster
    instead of its id: the split an experiment randomised by clusters would make, analysed per
    unit as assay analyses units.
    """
    dialect = dialect or project.dialect
    experiment = replay_experiment(metric, start, end, cluster)
    plan = plan_experiment(project, experiment)
    if population is None:
        src = project.spec.exposures
        rows, unit, ts = relation(src.table, src.sql, dialect, "x"), src.unit_id, src.timestamp
    else:
        source = project.spec.sources[population]
        rows, unit, ts = relation(source.table, source.sql, dialect, "x"), source.unit, \
            source.timestamp
    activity = exp.select(
        alias(col(unit, "x"), UNIT),
        alias(exp.Literal.string(CONTROL), VARIANT),
        alias(col(ts, "x"), TS),
        *([alias(parse_expression(cluster, dialect), CLUSTER)] if cluster else []),
    ).from_(rows)
    ctes = per_unit_ctes(project, plan, activity, dialect)
    values = exp.Values(
        expressions=[exp.Tuple(expressions=[exp.Literal.number(k)]) for k in range(splits)],
        alias=exp.TableAlias(this=exp.to_identifier("salts"),
                             columns=[exp.to_identifier(SPLIT, quoted=True)]),
    )
    key = exp.cast(col(CLUSTER, "p") if cluster else col(UNIT, "p"), exp.DataType.Type.TEXT)
    salt = exp.DPipe(this=exp.Literal.string(SALT_PREFIX),
                     expression=exp.cast(col(SPLIT, "salts"), exp.DataType.Type.TEXT))
    bucket = bucket_expression(salt, key, dialect)
    arm = (exp.Case().when(bucket < exp.Literal.number(BUCKETS // 2),
                           exp.Literal.string(CONTROL)).else_(exp.Literal.string(TREATMENT)))
    metric_plan = plan.metrics[0]
    columns = sorted({plan.measures[m] for m in metric_plan.variables.values()})
    hashed = (
        exp.select(col(SPLIT, "salts"), alias(arm, VARIANT), *(col(c, "p") for c in columns))
        .from_(exp.to_table("per_unit").as_("p", quoted=True))
        .join(values, join_type="cross")
    )
    query = (
        exp.select(col(SPLIT), col(VARIANT), *metric_statistics(plan, metric_plan))
        .from_(hashed.subquery("h"))
        .group_by(col(SPLIT), col(VARIANT))
        .order_by(col(SPLIT), col(VARIANT))
    )
    return with_ctes(query, ctes), plan
