"""``assay dbt generate EXP``: the per-unit step of an analysis as dbt models.

The seed's namespace pattern: ``fct_*`` models feed the board and the experiments, and
``exp_metrics_*`` models hold one row per unit. For an experiment this writes, under the dbt
project's ``models/assay/<experiment>/``:

- ``exp_exposures__<experiment>``: the deduplicated first exposure of every analysed unit (one
  variant only, inside the experiment's dates), as assay's own analysis defines it;
- ``exp_metrics_<metric>__<experiment>``: one row per unit with the metric over its window
  (``value``, or ``num``/``den`` for a ratio; ``pre_*`` for the CUPED covariate);
- ``schema.yml``: dbt tests on them (unique and not-null unit, not-null and accepted variant).

The SQL is the analysis's own (:func:`assay.metrics.compile.per_unit_ctes`), with each
relation dbt built written back as ``{{ ref() }}``/``{{ source() }}`` so the models join the DAG.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlglot import exp

from assay.dbt.context import DbtContext
from assay.errors import SpecError, SpecIssue
from assay.metrics.compile import per_unit_ctes
from assay.metrics.plan import Measure, MetricPlan, plan_experiment
from assay.metrics.scan import T0, UNIT, VARIANT, col, exposures_of, units_query
from assay.spec.project import Project

FIRST_EXPOSURE = "first_exposure_at"
_VARIABLES = {"y": "value", "x": "pre_value", "num": "num", "den": "den",
              "num_pre": "pre_num", "den_pre": "pre_den"}


@dataclass(frozen=True)
class GeneratedModel:
    """One written model: its dbt name and file."""

    name: str
    path: Path


def model_name(*parts: str) -> str:
    """A dbt model name: lower case, every character outside ``[a-z0-9_]`` as ``_``."""
    return re.sub(r"[^a-z0-9_]", "_", "__".join(parts).lower())


def generate_models(project: Project, experiment_id: str) -> list[GeneratedModel]:
    """Write the experiment's dbt models and their tests; returns what was written.

    Raises:
        SpecError: The project has no dbt project, or the experiment does not exist.
    """
    context = project.dbt
    if context is None:
        where = project.where[("project", "")]
        raise SpecError([where.issue(("dbt",), "`assay dbt generate` needs a `dbt:` section "
                                               "naming the dbt project")])
    experiment = project.experiment(experiment_id)
    plan = plan_experiment(project, experiment)
    folder = context.project_dir / "models" / "assay" / model_name(experiment.id)
    folder.mkdir(parents=True, exist_ok=True)
    refs = _refs(context)
    exposures = model_name("exp_exposures", experiment.id)
    units = exp.select(
        col(UNIT), exp.Literal.string(experiment.id).as_("experiment_id", quoted=True),
        col(VARIANT), col(T0).as_(FIRST_EXPOSURE, quoted=True),
        *(col(s) for s in experiment.segments),
    ).from_(units_query(experiment, project.dialect).subquery("u"))
    units = units.with_("e", as_=exposures_of(project, experiment))
    written = [_write(folder, exposures, units, refs, project.dialect)]
    ctes = per_unit_ctes(project, plan, exposures_of(project, experiment), project.dialect)
    for metric in plan.metrics:
        name = model_name(f"exp_metrics_{metric.metric.name}", experiment.id)
        written.append(_write(folder, name, _metric_query(plan.measures, metric, ctes),
                              refs, project.dialect))
    variants = [v.name for v in experiment.variants]
    tests = {"version": 2, "models": [
        _tested(m.name, variants, f"assay: {experiment.id}") for m in written]}
    schema = folder / "schema.yml"
    schema.write_text("# Written by `assay dbt generate`; regenerate rather than edit.\n"
                      + yaml.dump(tests, Dumper=_Plain, sort_keys=False), encoding="utf-8")
    return written


def _metric_query(
    measures: dict[Measure, str], metric: MetricPlan, ctes: list[tuple[str, exp.Query]]
) -> exp.Query:
    query = exp.select(col(UNIT, "u"), col(VARIANT, "u"), col(T0, "u").as_(FIRST_EXPOSURE,
                                                                           quoted=True))
    query = query.from_(exp.to_table("per_unit").as_("p", quoted=True)).join(
        exp.to_table("units").as_("u", quoted=True), on=col(UNIT, "p").eq(col(UNIT, "u")))
    for variable, measure in metric.variables.items():
        query = query.select(col(measures[measure], "p").as_(_VARIABLES[variable], quoted=True))
    for name, cte in ctes:
        query = query.with_(name, as_=cte)
    return query


def _refs(context: DbtContext) -> dict[str, str]:
    """Relation (as assay writes it) -> the Jinja that names it in a dbt model."""
    out = {}
    for table, unique_id in context.tables.items():
        entry = context.manifest.entry(unique_id) or {}
        if entry.get("resource_type") == "source":
            out[table] = f"{{{{ source('{entry['source_name']}', '{entry['name']}') }}}}"
        else:
            out[table] = f"{{{{ ref('{entry['name']}') }}}}"
    return out


def _write(
    folder: Path, name: str, query: exp.Query, refs: dict[str, str], dialect: str
) -> GeneratedModel:
    placeholders: dict[str, str] = {}

    def to_placeholder(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and node.args.get("db") is not None:
            jinja = refs.get(exp.table_(node.this.copy(), db=node.args["db"].copy(),
                                        catalog=_copy(node.args.get("catalog"))).sql(dialect))
            if jinja is not None:
                key = f"assay_ref_{len(placeholders)}_"
                placeholders[key] = jinja
                return exp.Table(this=exp.to_identifier(key), alias=node.args.get("alias"))
        return node

    sql = query.transform(to_placeholder).sql(dialect=dialect, pretty=True)
    for key, jinja in placeholders.items():
        sql = sql.replace(key, jinja)
    unresolved = [t for t in refs if t in sql]
    if unresolved:
        raise SpecError([SpecIssue(str(folder), None, "", f"could not write {unresolved[0]} as "
                                   "a dbt ref")])
    path = folder / f"{name}.sql"
    path.write_text(f"-- Written by `assay dbt generate`; regenerate rather than edit.\n{sql}\n",
                    encoding="utf-8")
    return GeneratedModel(name, path)


class _Plain(yaml.SafeDumper):  # type: ignore[misc]
    """YAML without anchors: each model lists its accepted variants in full."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _copy(node: object) -> exp.Identifier | None:
    return node.copy() if isinstance(node, exp.Identifier) else None


def _tested(name: str, variants: list[str], description: str) -> dict[str, object]:
    return {"name": name, "description": description, "columns": [
        {"name": UNIT, "data_tests": ["unique", "not_null"]},
        {"name": VARIANT, "data_tests": ["not_null", {"accepted_values": {
            "arguments": {"values": variants}}}]},
    ]}
