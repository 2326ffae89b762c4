"""At connect the loader asks the ledger about its pending batches only, a chunk at a time."""

from __future__ import annotations

import pyarrow as pa

from assay.exposure import loader
from assay.exposure.loader import LEDGER, Loader
from assay.warehouse.duckdb import DuckDBWarehouse


def test_the_ledger_is_asked_about_the_pending_batches_alone() -> None:
    wh = DuckDBWarehouse(":memory:")
    loaded = [f"b{i:06d}" for i in range(20_000)]
    wh.write_table(LEDGER, pa.table({"batch_id": loaded}), mode="replace")
    asked: list[str] = []
    execute = wh.execute
    wh.execute = lambda sql: (asked.append(sql), execute(sql))[1]  # type: ignore[method-assign]
    pending = ["b000007", "new-1", *loaded[-1200:], "o'brien"]
    found = Loader._read_ledger(None, wh, pending)  # type: ignore[arg-type]
    assert found == {"b000007", *loaded[-1200:]}
    assert len(asked) == -(-len(pending) // loader.LEDGER_CHUNK)  # one query per chunk
    assert all(" IN (" in sql for sql in asked)
    assert Loader._read_ledger(None, DuckDBWarehouse(":memory:"), ["x"]) == set()  # type: ignore[arg-type]
    assert Loader._read_ledger(None, wh, []) == set()  # type: ignore[arg-type]
