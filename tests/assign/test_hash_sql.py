"""The SQL twin of hash version 1: run for real on the warehouses here, golden files elsewhere."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from assay.assign.engine import compile_experiments
from assay.assign.sql import HASH_DIALECTS, assignment_query, bucket_expression
from assay.errors import AssayError
from assay.spec.models import ExperimentSpec

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("ASSAY_UPDATE_GOLDEN") == "1"
UNRUNNABLE = ["bigquery", "snowflake", "trino"]


def test_sql_hash_matches_vectors(warehouse: Any, hash_vectors: dict[str, Any]) -> None:
    cases = hash_vectors["cases"]
    warehouse.write_table("assay_hash_vectors", pa.table({
        "pos": list(range(len(cases))), "salt": [c["salt"] for c in cases],
        "unit_id": [c["unit_id"] for c in cases]}), mode="replace")
    query = exp.select(exp.column("pos", quoted=True), bucket_expression(
        exp.column("salt", quoted=True), exp.column("unit_id", quoted=True), warehouse.dialect,
    ).as_("bucket", quoted=True)).from_(exp.to_table("assay_hash_vectors"))
    rows = warehouse.execute(query.sql(warehouse.dialect))
    got = dict(zip(rows.column("pos").to_pylist(), rows.column("bucket").to_pylist(),
                   strict=True))
    assert len(got) == len(cases)
    mismatches = [(c["salt"], c["unit_id"][:20], got[i], c["bucket"])
                  for i, c in enumerate(cases) if got[i] != c["bucket"]]
    assert not mismatches


def test_literal_salt_matches_column_salt(duckdb_wh: Any) -> None:
    unit = exp.Literal.string("user-1")
    literal = bucket_expression("it's", unit, "duckdb")
    column = bucket_expression(exp.Literal.string("it's"), unit, "duckdb")
    table = duckdb_wh.execute(exp.select(literal.as_("a"), column.as_("b")).sql("duckdb"))
    from assay.assign.hashing import bucket
    assert table.to_pylist() == [{"a": bucket("it's", "user-1"), "b": bucket("it's", "user-1")}]


def _specs() -> dict[str, ExperimentSpec]:
    hold = ExperimentSpec(id="holdout_2026", variants=[
        {"name": "held", "weight": 1, "control": True}, {"name": "rest", "weight": 1}],
        traffic=0.1)
    main = ExperimentSpec(
        id="checkout_v2", salt="checkout_v2_salt", holdout="holdout_2026",
        variants=[{"name": "control", "weight": 1}, {"name": "treatment", "weight": 3}],
        traffic=0.8, layer="checkout", layer_range=(0, 6000),
        targeting="country IN ('DE', 'FR') AND (age >= 18 OR age IS NULL)",
        forced={"qa-1": "treatment"})
    return {"holdout_2026": hold, "checkout_v2": main}


def test_assignment_sql_agrees_with_sdk(warehouse: Any) -> None:
    specs = _specs()
    n = 3000
    ids = [f"user-{i}" for i in range(n)] + ["qa-1", "Ünïcødé-😀"]
    countries = [("DE", "FR", "US")[i % 3] for i in range(len(ids))]
    ages = [None if i % 7 == 0 else 10 + i % 50 for i in range(len(ids))]
    warehouse.write_table("units", pa.table({"unit_id": ids, "country": countries,
                                             "age": pa.array(ages, pa.int64())}), mode="replace")
    rows = warehouse.execute(assignment_query(specs, "checkout_v2", warehouse.dialect)
                             .sql(warehouse.dialect))
    sql_variant = dict(zip(rows.column("unit_id").to_pylist(),
                           rows.column("variant").to_pylist(), strict=True))
    sdk = compile_experiments(specs)["checkout_v2"]
    expected = {u: sdk.variant(u, {"country": c, "age": a})
                for u, c, a in zip(ids, countries, ages, strict=True)}
    assert sql_variant == expected
    assert 200 < sum(v is not None for v in expected.values()) < n  # the gates did filter


@pytest.mark.parametrize("dialect", UNRUNNABLE)
def test_golden_sql(dialect: str) -> None:
    sql = assignment_query(_specs(), "checkout_v2", dialect).sql(dialect, pretty=True) + "\n"
    path = GOLDEN / f"assignment_checkout_v2.{dialect}.sql"
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(sql, encoding="utf-8")
    assert path.exists(), f"missing golden file; run with ASSAY_UPDATE_GOLDEN=1 to create {path}"
    assert sql == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("dialect", UNRUNNABLE)
def test_golden_hash_expression(dialect: str) -> None:
    expected = {
        "bigquery": "MOD(CAST('0x' || SUBSTRING(TO_HEX(MD5('s:' || CAST(`u` AS STRING))), 1, 8)"
                    " AS INT64), 10000)",
        "snowflake": "TO_NUMBER(SUBSTRING(MD5('s:' || CAST(\"u\" AS VARCHAR)), 1, 8), "
                     "'xxxxxxxx') % 10000",
        "trino": "FROM_BASE(SUBSTR(TO_HEX(MD5(TO_UTF8('s:' || CAST(\"u\" AS VARCHAR)))), 1, 8), "
                 "16) % 10000",
    }[dialect]
    assert bucket_expression("s", exp.column("u", quoted=True), dialect).sql(dialect) == expected


def test_unknown_dialect_lists_supported() -> None:
    with pytest.raises(AssayError, match="supported: bigquery"):
        bucket_expression("s", exp.column("u"), "oracle")
    assert {"duckdb", "postgres", "spark", "bigquery", "snowflake", "trino"} <= set(HASH_DIALECTS)


def test_units_from_a_query(duckdb_wh: Any) -> None:
    specs = _specs()
    units = "SELECT 'user-' || CAST(i AS VARCHAR) AS uid FROM range(500) t(i)"
    query = assignment_query(specs, "holdout_2026", "duckdb", units=units, unit_column="uid")
    rows = duckdb_wh.execute(query.sql("duckdb"))
    sdk = compile_experiments(specs)["holdout_2026"]
    assert rows.column("variant").to_pylist() == [sdk.variant(u) for u in
                                                 rows.column("unit_id").to_pylist()]
    assert rows.num_rows == 500


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(weights=st.lists(st.integers(1, 9), min_size=2, max_size=4),
       traffic=st.integers(1, 100), lo=st.integers(0, 9000), width=st.integers(1, 5000),
       salt=st.text(min_size=1, max_size=12))
def test_random_specs_agree_on_duckdb(duckdb_wh: Any, weights: list[int], traffic: int, lo: int,
                                      width: int, salt: str) -> None:
    spec = ExperimentSpec(id="e", salt=salt, traffic=traffic / 100, layer="L",
                          layer_range=(lo, min(lo + width, 10_000)),
                          variants=[{"name": f"v{i}", "weight": w} for i, w in enumerate(weights)])
    ids = [f"id-{i}" for i in range(400)]
    duckdb_wh.write_table("units", pa.table({"unit_id": ids}), mode="replace")
    rows = duckdb_wh.execute(assignment_query({"e": spec}, "e", "duckdb").sql("duckdb"))
    sdk = compile_experiments([spec])["e"]
    assert rows.column("variant").to_pylist() == sdk.variants(rows.column("unit_id").to_pylist()
                                                              ).tolist()
