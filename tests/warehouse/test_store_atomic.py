"""An analysis is stored whole or not at all, on every engine (Spark has no transactions).

The warehouse is wrapped so that the statement writing the ``analyses`` row, the last one of an
analysis, fails as a crash would; readers must then see no analysis, and the retry must store
exactly one, with exactly its own rows.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from tests.analysis.conftest import segmented_result, shop, shop_project
from tests.warehouse.test_results_store_backends import _rows

from assay.errors import WarehouseError
from assay.results import AnalysisResult
from assay.store import Layout, Store
from assay.warehouse.base import Warehouse

__all__ = ["segmented_result", "shop", "shop_project"]  # fixtures used here


class CrashOnAnalysesRow:
    """Delegates to ``inner``; the INSERT into the analyses table fails once."""

    def __init__(self, inner: Warehouse, table: str) -> None:
        self.inner, self.table, self.crashed = inner, table, False
        self.dialect, self.name = inner.dialect, inner.name

    def execute(self, sql: str) -> pa.Table:
        if not self.crashed and sql.lstrip().upper().startswith("INSERT") and self.table in sql:
            self.crashed = True
            raise WarehouseError("simulated crash before the analyses row", sql=sql)
        return self.inner.execute(sql)

    def columns(self, table: str) -> list[str] | None:
        return self.inner.columns(table)

    def write_table(self, table: str, data: pa.Table, *, mode: str = "append") -> None:
        self.inner.write_table(table, data, mode=mode)

    def close(self) -> None:
        self.inner.close()


def test_a_crash_before_the_analyses_row_leaves_nothing_a_reader_sees(
        warehouse: Warehouse, segmented_result: AnalysisResult) -> None:
    layout = Layout("lab", "x_")
    flaky: Any = CrashOnAnalysesRow(warehouse, "x_analyses")
    with pytest.raises(WarehouseError, match="simulated crash"):
        Store(flaky, layout).save_analysis(_rows(segmented_result))
    assert flaky.crashed
    store = Store(warehouse, layout)
    assert store.analyses("exp") == [] and store.latest_analysis("exp") is None
    saved = store.save_analysis(_rows(segmented_result))
    [analysis] = store.analyses("exp")
    assert saved.created and analysis.analysis_id == saved.analysis_id
    expected = len(segmented_result.results) + len(segmented_result.segments)
    assert len(store.results(analysis.analysis_id)) == expected
