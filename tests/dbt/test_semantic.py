"""The MetricFlow -> assay mapping, case by case, on manifest entries written by hand (the
real project's mapping, lines and numbers are checked in the other tests of this folder)."""

from __future__ import annotations

from typing import Any

import pytest

from assay.dbt.semantic import Mapping, map_metrics
from assay.spec.models import DbtSpec
from assay.spec.project import Where
from assay.spec.yamlsrc import Loc, Located

RELATION = '"db"."main"."fct_orders"'


def _model(**changes: Any) -> dict[str, Any]:
    model: dict[str, Any] = {
        "name": "orders", "unique_id": "semantic_model.p.orders",
        "original_file_path": "models/semantic.yml",
        "depends_on": {"nodes": ["model.p.fct_orders"]},
        "defaults": {"agg_time_dimension": "ordered_at"},
        "entities": [{"name": "order", "type": "primary", "expr": "order_id"},
                     {"name": "user", "type": "foreign", "expr": "user_id"}],
        "dimensions": [{"name": "ordered_at", "type": "time"},
                       {"name": "is_gift", "type": "categorical", "expr": "gift_flag"}],
        "measures": [
            {"name": "revenue", "agg": "sum", "expr": "amount"},
            {"name": "gifts", "agg": "sum_boolean", "expr": "gift_flag"},
            {"name": "products", "agg": "count_distinct", "expr": "product_id"},
            {"name": "balance", "agg": "sum", "expr": "balance",
             "non_additive_dimension": {"name": "ordered_at", "window_choice": "max"}},
            {"name": "orders", "agg": "count", "expr": "order_id"},
        ],
    }
    return {**model, **changes}


def _metric(name: str, kind: str = "simple", measure: str | None = None, **params: Any
            ) -> dict[str, Any]:
    """A manifest metric entry (filters are set by the tests that need them)."""
    type_params: dict[str, Any] = dict(params)
    if measure is not None:
        type_params["measure"] = {"name": measure, "filter": None}
    return {"name": name, "type": kind, "unique_id": f"metric.p.{name}",
            "original_file_path": "models/semantic.yml", "type_params": type_params,
            "filter": None}


def _where(template: str) -> dict[str, Any]:
    return {"where_filters": [{"where_sql_template": template}]}


def _map(metrics: list[dict[str, Any]], model: dict[str, Any] | None = None,
         entity: str | None = "user") -> Mapping:
    def locate(file: str, section: Loc, name: str) -> Where:
        return Where(Located(file, None, {}), (str(section[0]), name))

    return map_metrics(metrics, [model or _model()], DbtSpec(entity=entity),
                       {"model.p.fct_orders": RELATION}, locate)


def test_sum_and_count_are_means_with_the_unit_entity_as_unit() -> None:
    mapped = _map([_metric("revenue", measure="revenue"), _metric("orders", measure="orders")])
    revenue = mapped.metrics["revenue"].fields
    assert revenue["source"] == {"table": RELATION, "unit": "user_id", "timestamp": "ordered_at"}
    assert (revenue["kind"], revenue["aggregation"], revenue["value"]) == ("mean", "sum", "amount")
    assert mapped.metrics["orders"].fields["filter"] == "(order_id) IS NOT NULL"
    assert set(mapped.metrics["revenue"].nodes) == {
        "metric.p.revenue", "semantic_model.p.orders", "model.p.fct_orders"}


def test_sum_boolean_sums_an_indicator() -> None:
    fields = _map([_metric("gifts", measure="gifts")]).metrics["gifts"].fields
    assert fields["value"] == "CASE WHEN (gift_flag) THEN 1 ELSE 0 END"


def test_filters_resolve_dimensions_and_entities_and_combine() -> None:
    metric = _metric("gift_revenue", measure="revenue")
    metric["filter"] = _where("{{ Dimension('order__is_gift') }}")
    metric["type_params"]["measure"]["filter"] = _where("{{ Entity('user') }} <> 'u_1'")
    fields = _map([metric]).metrics["gift_revenue"].fields
    assert fields["filter"] == "((gift_flag)) AND ((user_id) <> 'u_1')"


@pytest.mark.parametrize(("template", "reason"), [
    ("{{ TimeDimension('order__ordered_at', 'day') }} > '2026-01-01'", "time-dimension filter"),
    ("{{ Dimension('user__country') }} = 'DE'", "through a join"),
    ("{{ Metric('revenue', group_by=['user']) }} > 10", "only Dimension() and Entity()"),
])
def test_filters_assay_cannot_apply_exactly_are_refused(template: str, reason: str) -> None:
    metric = _metric("m", measure="revenue")
    metric["filter"] = _where(template)
    mapped = _map([metric])
    assert "m" not in mapped.metrics and reason in mapped.refused["m"].message


def test_ratio_and_a_derived_quotient_become_ratios() -> None:
    base = [_metric("revenue", measure="revenue"), _metric("orders", measure="orders")]
    ratio = _metric("aov", "ratio", numerator={"name": "revenue"}, denominator={"name": "orders"})
    derived = _metric("aov2", "derived", expr="rev / n",
                      metrics=[{"name": "revenue", "alias": "rev"}, {"name": "orders",
                                                                      "alias": "n"}])
    mapped = _map([derived, ratio, *base])
    for name in ("aov", "aov2"):
        fields = mapped.metrics[name].fields
        assert (fields["kind"], fields["numerator"], fields["denominator"]) == (
            "ratio", "revenue", "orders")


@pytest.mark.parametrize(("metric", "reason"), [
    (_metric("sum2", "derived", expr="revenue + orders",
             metrics=[{"name": "revenue"}, {"name": "orders"}]), "not a ratio of two metrics"),
    (_metric("r", "ratio", numerator={"name": "revenue", "filter": _where("x")},
             denominator={"name": "orders"}), "has its own `filter`"),
    (_metric("mtd", "cumulative", measure="revenue", window={"count": 7, "granularity": "day"}),
     "accumulates over calendar time"),
    (_metric("conv", "conversion", conversion_type_params={"base_measure": {"name": "orders"}}),
     "counts conversions"),
    (_metric("distinct", measure="products"), "count_distinct over `product_id`"),
    (_metric("bal", measure="balance"), "non-additive"),
])
def test_metrics_without_an_exact_per_unit_form_are_refused(metric: dict[str, Any],
                                                            reason: str) -> None:
    mapped = _map([metric, _metric("revenue", measure="revenue"),
                   _metric("orders", measure="orders")])
    name = metric["name"]
    assert name not in mapped.metrics and reason in mapped.refused[name].message


def test_count_distinct_of_the_unit_is_a_proportion() -> None:
    model = _model()
    model["measures"].append({"name": "buyers", "agg": "count_distinct", "expr": "user_id"})
    fields = _map([_metric("buyers", measure="buyers")], model).metrics["buyers"].fields
    assert fields["kind"] == "proportion" and fields["filter"] is None


def test_a_unit_entity_written_as_an_expression_reads_through_a_query() -> None:
    model = _model(entities=[{"name": "order", "type": "primary", "expr": "order_id"},
                             {"name": "user", "type": "foreign", "expr": "lower(user_id)"}])
    source = _map([_metric("revenue", measure="revenue")], model).metrics["revenue"].fields[
        "source"]
    assert source["unit"] == "assay_unit" and 'LOWER(user_id) AS "assay_unit"' in source["sql"]
    assert RELATION in source["sql"]


def test_models_without_a_primary_entity_or_the_unit_entity_are_refused() -> None:
    model = _model(entities=[{"name": "user", "type": "foreign", "expr": "user_id"}])
    assert "no primary entity" in _map([_metric("revenue", measure="revenue")], model
                                       ).refused["revenue"].message
    refused = _map([_metric("revenue", measure="revenue")], entity="account").refused
    assert "no entity `account`" in refused["revenue"].message
    # without `dbt.entity` the primary entity is the unit
    source = _map([_metric("revenue", measure="revenue")], entity=None).metrics[
        "revenue"].fields["source"]
    assert source["unit"] == "order_id"
