"""MetricFlow semantic models and metrics -> assay metric definitions, exactly or not at all.

A dbt metric becomes an ordinary assay metric (DESIGN 12), so the compiler and the statistics
serve it unchanged. The mapping (docs/dbt.md):

- the semantic model's relation is the source; the unit entity's ``expr`` the unit column; the
  measure's ``agg_time_dimension`` the event time;
- ``sum`` -> a ``mean`` metric summing ``expr``; ``count`` -> counting rows where ``expr`` is not
  NULL; ``sum_boolean`` -> summing ``CASE WHEN expr THEN 1 ELSE 0 END``; ``count_distinct`` of
  the unit entity -> a ``proportion``; ``average`` -> a ``ratio`` of the sum of ``expr`` to the
  count of its non-NULL values;
- a ``ratio`` metric -> an assay ratio of its numerator and denominator metrics; a ``derived``
  metric whose expression is ``a / b`` -> the same;
- the metric's (and its measure input's) ``filter`` -> the metric's ``filter``, with
  ``Dimension('entity__dim')`` and ``Entity('entity')`` replaced by their ``expr``.

Everything else (``max``/``min``/``median``/``percentile``, non-additive measures, cumulative and
conversion metrics, time-dimension filters, inputs with their own filters or offsets) has no
exact per-unit meaning whose sum over units is the board's number, so it is refused with the dbt
file and line, never approximated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.errors import ParseError

from assay.errors import SpecIssue
from assay.spec.models import DbtSpec
from assay.spec.project import Where
from assay.spec.yamlsrc import Loc

_TEMPLATE = re.compile(
    r"""\{\{\s*(?P<kind>\w+)\(\s*['"](?P<ref>[^'"]+)['"]\s*(?P<rest>,[^)]*)?\)\s*\}\}"""
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Aggregations with no per-unit value whose sum over units is the board's total.
_REFUSED_AGG = {
    "max": "the largest value over all units is not a sum of per-unit values",
    "min": "the smallest value over all units is not a sum of per-unit values",
    "median": "a median over all events is not a sum of per-unit values",
    "percentile": "a percentile over all events is not a sum of per-unit values",
}
Locate = Callable[[str, Loc, str], Where]


class Unmappable(Exception):
    """A dbt definition assay cannot analyse exactly; carries the located issue."""

    def __init__(self, issue: SpecIssue) -> None:
        super().__init__(issue.format())
        self.issue = issue


@dataclass(frozen=True)
class DbtMetric:
    """One dbt metric as assay metric fields.

    Attributes:
        name: The dbt metric's name (the assay metric's, unless a metrics file renames it).
        fields: :class:`~assay.spec.models.MetricSpec` fields (kind, source, value ...).
        nodes: Manifest unique ids the definition comes from (metric, semantic model, model).
        where: The metric's place in its dbt YAML file.
    """

    name: str
    fields: dict[str, Any]
    nodes: tuple[str, ...]
    where: Where


@dataclass
class Mapping:
    """Every dbt metric: mapped, or refused with a located reason."""

    metrics: dict[str, DbtMetric] = field(default_factory=dict)
    refused: dict[str, SpecIssue] = field(default_factory=dict)


@dataclass(frozen=True)
class _Model:
    """What a metric needs from its semantic model."""

    name: str
    unique_id: str
    node: str
    where: Where
    entities: dict[str, str]
    dimensions: dict[str, tuple[str, str]]
    measures: dict[str, tuple[int, dict[str, Any]]]
    relation: str
    unit: str
    default_time: str | None

    def source(self, measure: dict[str, Any], loc: Loc) -> dict[str, Any]:
        """The assay source of one measure: the relation keyed by the unit and event time."""
        time = measure.get("agg_time_dimension") or self.default_time
        if time is None or time not in self.dimensions or self.dimensions[time][1] != "time":
            raise Unmappable(self.where.issue(
                loc, f"measure `{measure['name']}` has no time dimension to place its events in "
                "an experiment's window", hint="set `agg_time_dimension` (or "
                "`defaults.agg_time_dimension`) to a dimension of type time"))
        unit, stamp = self.unit, self.dimensions[time][0]
        if _IDENT.match(unit) and _IDENT.match(stamp):
            return {"table": self.relation, "unit": unit, "timestamp": stamp}
        query = exp.select(
            exp.Star(),
            exp.alias_(exp.maybe_parse(unit), "assay_unit", quoted=True),
            exp.alias_(exp.maybe_parse(stamp), "assay_time", quoted=True),
        ).from_(exp.to_table(self.relation))
        return {"sql": query.sql(), "unit": "assay_unit", "timestamp": "assay_time"}

    def render(self, template: str, where: Where, loc: Loc) -> str:
        """A MetricFlow filter as SQL over this model's columns."""

        def substitute(match: re.Match[str]) -> str:
            kind, ref = match["kind"], match["ref"]
            parts = ref.split("__")
            if kind == "Entity" and len(parts) == 1 and ref in self.entities:
                return f"({self.entities[ref]})"
            if kind == "Dimension" and match["rest"] is None and len(parts) == 2:
                entity, dim = parts
                if entity in self.entities and dim in self.dimensions:
                    return f"({self.dimensions[dim][0]})"
            if kind == "TimeDimension" or ref.startswith("metric_time"):
                reason = "a time-dimension filter (assay's window places events in time)"
            elif kind in ("Dimension", "Entity"):
                reason = (f"`{ref}` is not an entity or dimension of semantic model "
                          f"`{self.name}` (a filter through a join is not mapped)")
            else:
                reason = "only Dimension() and Entity() references are mapped"
            raise Unmappable(where.issue(loc, f"filter `{template}`: {reason}"))

        rendered = _TEMPLATE.sub(substitute, template)
        if "{{" in rendered or "{%" in rendered:
            raise Unmappable(where.issue(loc, f"filter `{template}`: only Dimension() and "
                                              "Entity() references are mapped"))
        return rendered


def map_metrics(
    entries: list[dict[str, Any]],
    models: list[dict[str, Any]],
    spec: DbtSpec,
    relations: dict[str, str],
    locate: Locate,
) -> Mapping:
    """Map every dbt metric.

    Args:
        entries: The manifest's metrics.
        models: The manifest's semantic models.
        spec: ``dbt:`` settings (unit entity, default windows).
        relations: Model unique id -> relation in the warehouse's dialect.
        locate: ``(file, loc, name) -> Where`` in a dbt YAML file.
    """
    out = Mapping()
    by_measure: dict[str, _Model | SpecIssue] = {}
    for model in models:
        try:
            built: _Model | SpecIssue = _model(model, spec, relations, locate)
        except Unmappable as err:
            built = err.issue
        for measure in model.get("measures") or []:
            by_measure[str(measure["name"])] = built
    simple = [m for m in entries if m.get("type") == "simple"]
    for metric in simple + [m for m in entries if m.get("type") != "simple"]:
        where = locate(str(metric.get("original_file_path")), ("metrics",), str(metric["name"]))
        try:
            for mapped in _metric(metric, where, by_measure, out, spec):
                out.metrics[mapped.name] = mapped
        except Unmappable as err:
            out.refused[str(metric["name"])] = err.issue
    return out


def _model(
    model: dict[str, Any], spec: DbtSpec, relations: dict[str, str], locate: Locate
) -> _Model:
    where = locate(str(model.get("original_file_path")), ("semantic_models",), str(model["name"]))
    entities = {str(e["name"]): str(e.get("expr") or e["name"]) for e in model["entities"]}
    primary = model.get("primary_entity") or next(
        (str(e["name"]) for e in model["entities"] if e.get("type") == "primary"), None)
    if primary is None:
        raise Unmappable(where.issue(("entities",), f"semantic model `{model['name']}` has no "
                                     "primary entity", hint="give one entity `type: primary` "
                                     "(or set `primary_entity`)"))
    unit = spec.entity or primary
    if unit not in entities:
        raise Unmappable(where.issue(("entities",), f"semantic model `{model['name']}` has no "
                                     f"entity `{unit}`, the experiment unit (`dbt.entity`)"))
    node = next(iter((model.get("depends_on") or {}).get("nodes") or []), "")
    relation = relations.get(node)
    if relation is None:
        raise Unmappable(where.issue(("model",), f"the model of semantic model "
                                     f"`{model['name']}` is not in the manifest"))
    return _Model(
        name=str(model["name"]), unique_id=str(model["unique_id"]), node=node, where=where,
        entities=entities,
        dimensions={str(d["name"]): (str(d.get("expr") or d["name"]), str(d.get("type")))
                    for d in model.get("dimensions") or []},
        measures={str(m["name"]): (i, m) for i, m in enumerate(model.get("measures") or [])},
        relation=relation, unit=entities[unit],
        default_time=(model.get("defaults") or {}).get("agg_time_dimension"),
    )


def _metric(
    metric: dict[str, Any], where: Where, by_measure: dict[str, _Model | SpecIssue],
    done: Mapping, spec: DbtSpec,
) -> list[DbtMetric]:
    kind, name, params = metric.get("type"), str(metric["name"]), metric.get("type_params") or {}
    describe = {"description": metric.get("description") or metric.get("label") or None}
    if kind == "simple":
        return _simple(metric, where, by_measure, spec, describe)
    if metric.get("filter"):
        raise Unmappable(where.issue(("filter",), f"a {kind} metric's own filter is not mapped",
                                     hint="filter its input metrics instead"))
    if kind == "ratio":
        num, den = _plain_input(params.get("numerator"), where), _plain_input(
            params.get("denominator"), where)
    elif kind == "derived":
        num, den = _derived_ratio(params, where)
    else:
        reason = {
            "cumulative": "accumulates over calendar time (a window or grain-to-date), while "
                          "assay's windows run per unit from its first exposure",
            "conversion": "counts conversions within its own window after a base event, which "
                          "is not a per-unit value over an experiment window",
        }.get(str(kind), "is of a type assay does not map")
        raise Unmappable(where.issue(("type",), f"dbt metric `{name}` ({kind}) {reason}",
                                     hint="analyse the simple metric it builds on"))
    for part in (num, den):
        if part not in done.metrics:
            raise Unmappable(where.issue(("type_params",), f"dbt metric `{name}` uses `{part}`, "
                                         "which is not mapped", hint=_why(done, part)))
    nodes = tuple(sorted({str(metric["unique_id"]), *done.metrics[num].nodes,
                          *done.metrics[den].nodes}))
    fields = {"kind": "ratio", "numerator": num, "denominator": den, **describe}
    return [DbtMetric(name, fields, nodes, where)]


def _simple(
    metric: dict[str, Any], where: Where, by_measure: dict[str, _Model | SpecIssue],
    spec: DbtSpec, describe: dict[str, Any],
) -> list[DbtMetric]:
    name = str(metric["name"])
    ref = (metric.get("type_params") or {}).get("measure") or {}
    model = by_measure.get(str(ref.get("name")))
    if model is None:
        raise Unmappable(where.issue(("type_params", "measure"),
                                     f"measure `{ref.get('name')}` is in no semantic model"))
    if isinstance(model, SpecIssue):
        raise Unmappable(model)
    if ref.get("join_to_timespine") and ref.get("fill_nulls_with") not in (None, 0):
        raise Unmappable(where.issue(("type_params", "measure"), "`fill_nulls_with` other than "
                                     "0 adds values to days without events, not to units"))
    index, measure = model.measures[str(ref["name"])]
    loc: Loc = ("measures", index)
    filters = [model.render(f["where_sql_template"], where, ("filter",))
               for f in (metric.get("filter") or {}).get("where_filters") or []]
    filters += [model.render(f["where_sql_template"], where, ("type_params", "measure"))
                for f in (ref.get("filter") or {}).get("where_filters") or []]
    base = {"source": model.source(measure, loc), "window": spec.window,
            "pre_window": spec.pre_window, **describe}
    nodes = tuple(sorted({str(metric["unique_id"]), model.unique_id, model.node}))
    agg, expr = str(measure.get("agg")), str(measure.get("expr") or measure["name"])
    if measure.get("non_additive_dimension"):
        raise Unmappable(model.where.issue((*loc, "non_additive_dimension"), f"measure "
                         f"`{measure['name']}` is non-additive: its per-unit values do not add up"))
    if agg in _REFUSED_AGG:
        raise Unmappable(model.where.issue((*loc, "agg"), f"measure `{measure['name']}` "
                         f"aggregates with {agg}, which assay cannot analyse per unit: "
                         f"{_REFUSED_AGG[agg]}", hint=f"used by dbt metric `{name}`"))
    if agg == "average":
        return _average(name, expr, filters, base, nodes, where)
    fields = _aggregation(agg, expr, model, measure, loc, filters)
    return [DbtMetric(name, {**base, **fields}, nodes, where)]


def _aggregation(
    agg: str, expr: str, model: _Model, measure: dict[str, Any], loc: Loc, filters: list[str]
) -> dict[str, Any]:
    if agg == "sum":
        return {"kind": "mean", "aggregation": "sum", "value": expr, "filter": _and(filters)}
    if agg == "count":
        return {"kind": "mean", "aggregation": "count",
                "filter": _and([*filters, f"({expr}) IS NOT NULL"])}
    if agg == "sum_boolean":
        return {"kind": "mean", "aggregation": "sum",
                "value": f"CASE WHEN ({expr}) THEN 1 ELSE 0 END", "filter": _and(filters)}
    if agg == "count_distinct" and _same_column(expr, model.unit):
        return {"kind": "proportion", "filter": _and(filters)}
    raise Unmappable(model.where.issue((*loc, "agg"), f"measure `{measure['name']}` aggregates "
                     f"with {agg} over `{expr}`, which assay cannot analyse per unit",
                     hint="count_distinct maps only over the unit entity (a proportion)"))


def _average(
    name: str, expr: str, filters: list[str], base: dict[str, Any], nodes: tuple[str, ...],
    where: Where,
) -> list[DbtMetric]:
    """``average``: the ratio of the sum of ``expr`` to the count of its non-NULL values."""
    total = {**base, "kind": "mean", "aggregation": "sum", "value": expr,
             "filter": _and(filters), "description": f"sum of `{expr}` (numerator of {name})"}
    count = {**base, "kind": "mean", "aggregation": "count",
             "filter": _and([*filters, f"({expr}) IS NOT NULL"]),
             "description": f"non-NULL `{expr}` (denominator of {name})"}
    ratio = {"kind": "ratio", "numerator": f"{name}__sum", "denominator": f"{name}__count",
             "description": base.get("description")}
    return [DbtMetric(f"{name}__sum", total, nodes, where),
            DbtMetric(f"{name}__count", count, nodes, where), DbtMetric(name, ratio, nodes, where)]


def _plain_input(metric_input: dict[str, Any] | None, where: Where) -> str:
    if not metric_input:
        raise Unmappable(where.issue(("type_params",), "a ratio needs a numerator and "
                                                       "a denominator"))
    extras = [k for k in ("filter", "offset_window", "offset_to_grain") if metric_input.get(k)]
    if extras:
        raise Unmappable(where.issue(("type_params",), f"input `{metric_input['name']}` has its "
                                     f"own `{extras[0]}`, which is not mapped",
                                     hint="define a simple metric with that filter and use it"))
    return str(metric_input["name"])


def _derived_ratio(params: dict[str, Any], where: Where) -> tuple[str, str]:
    """A derived metric that is exactly ``a / b`` of two plain input metrics."""
    inputs = {str(m.get("alias") or m["name"]): m for m in params.get("metrics") or []}
    try:
        tree: exp.Expr | None = exp.maybe_parse(str(params.get("expr") or ""))
    except ParseError:
        tree = None
    if (isinstance(tree, exp.Div) and isinstance(tree.this, exp.Column)
            and isinstance(tree.expression, exp.Column)
            and {tree.this.name, tree.expression.name} <= set(inputs)):
        return (_plain_input(inputs[tree.this.name], where),
                _plain_input(inputs[tree.expression.name], where))
    raise Unmappable(where.issue(("type_params", "expr"), f"derived expression "
                                 f"`{params.get('expr')}` is not a ratio of two metrics (a / b)",
                                 hint="only `a / b` has an exact per-unit form (a ratio metric)"))


def _why(done: Mapping, name: str) -> str | None:
    issue = done.refused.get(name)
    return None if issue is None else f"it was refused: {issue.format()}"


def _and(filters: list[str]) -> str | None:
    if not filters:
        return None
    return filters[0] if len(filters) == 1 else " AND ".join(f"({f})" for f in filters)


def _same_column(a: str, b: str) -> bool:
    return a.strip().strip('"').lower() == b.strip().strip('"').lower()
