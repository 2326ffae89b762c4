"""Targeting rules evaluated in Python agree with the same SQL evaluated by DuckDB (the oracle)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import duckdb
import pytest
from sqlglot import exp

from assay.assign.targeting import attributes_of, compile_targeting, targeting_sql
from assay.errors import SpecError

RULES = [
    "country = 'DE'",
    "country IN ('DE', 'FR') AND age >= 18",
    "NOT (country = 'DE') OR age < 30",
    "age BETWEEN 20 AND 40",
    "age IS NULL",
    "age IS NOT NULL AND country <> 'US'",
    "country NOT IN ('US', 'CA')",
    "LOWER(country) LIKE 'd%'",
    "age * 2 + 1 > 50 OR score / 2 <= 1.5",
    "COALESCE(age, 0) = 0",
    "premium",
    "NOT premium AND country IN ('DE', NULL)",
    "(country = 'DE' OR premium) AND NOT (age > 60)",
    "-age < -18",
]

GRID = [{"country": c, "age": a, "score": sc, "premium": p}
        for c, a, sc, p in itertools.product(["DE", "FR", "US", "de", None],
                                             [None, 0, 17, 18, 20, 30, 40, 61, 90],
                                             [None, -2.5, 0.0, 3.0, 3.1], [None, True, False])]


@pytest.fixture(scope="module")
def grid_db() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (pos INTEGER, country VARCHAR, age BIGINT, score DOUBLE, "
                "premium BOOLEAN)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                    [[i, r["country"], r["age"], r["score"], r["premium"]]
                     for i, r in enumerate(GRID)])
    yield con
    con.close()


@pytest.mark.parametrize("rule", RULES)
def test_python_matches_duckdb(rule: str, grid_db: duckdb.DuckDBPyConnection) -> None:
    query = exp.select(exp.func("COALESCE", targeting_sql(rule), exp.false())).from_("t") \
        .order_by("pos")
    expected = [bool(r[0]) for r in grid_db.execute(query.sql("duckdb")).fetchall()]
    compiled = compile_targeting(rule)
    assert compiled is not None
    assert [compiled(row) for row in GRID] == expected
    assert 0 < sum(expected) < len(GRID)  # the rule discriminates on this grid


def test_missing_attributes_are_null() -> None:
    rule = compile_targeting("country = 'DE'")
    assert rule is not None
    assert rule({}) is False and rule(None) is False


def test_type_mismatch_is_not_eligible() -> None:
    rule = compile_targeting("age > 18")
    assert rule is not None
    assert rule({"age": "30"}) is False


def test_errors_name_the_construct() -> None:
    with pytest.raises(SpecError, match="not a valid SQL boolean"):
        compile_targeting("country = = 'DE'")
    with pytest.raises(SpecError, match="not supported"):
        compile_targeting("country IN (SELECT c FROM t)")
    with pytest.raises(SpecError, match="bare names"):
        compile_targeting("u.country = 'DE'")


def test_attributes_listed_and_quoted() -> None:
    assert attributes_of("country = 'DE' AND (age > 1 OR country IS NULL)") == ["country", "age"]
    assert targeting_sql("Country = 'x'", table_alias="u").sql("duckdb") == \
        "\"u\".\"Country\" = 'x'"
