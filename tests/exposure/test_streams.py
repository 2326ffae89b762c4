"""Another kind of record on the journal -> loader path (what pipeline runs use), and the
example of docs/exposure.md, run as written."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from assay.exposure.collector import Collector
from assay.exposure.streams import Stream
from assay.exposure.validation import Rejection, text_problem
from assay.warehouse.duckdb import DuckDBWarehouse

DOC = Path(__file__).parents[2] / "docs" / "exposure.md"


def _check_run(index: int, event: Any) -> tuple[dict[str, Any] | None, Rejection | None]:
    run = event.get("run_id") if isinstance(event, dict) else None
    if not isinstance(run, str) or not run:
        return None, Rejection(index, "missing_field", "`run_id` is missing")
    problem = text_problem(index, "run_id", run)
    return (None, problem) if problem else ({"run_id": run, "kpi": event.get("kpi")}, None)


def _runs(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table({"run_id": [r["run_id"] for r in rows],
                     "kpi": pa.array([r["kpi"] for r in rows], pa.float64())})


def test_an_added_stream_is_loaded_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    collector = Collector({}, lambda: DuckDBWarehouse(path), tmp_path / "journal")
    collector.add_stream(Stream("pipeline_runs", "pipeline_runs", _check_run, _runs))
    collector.start()
    body = {"batch_id": "r1", "events": [{"run_id": "a", "kpi": 1.5}, {"run_id": "b\x00"},
                                         {"run_id": "c", "kpi": 2.0}]}
    status, reply = collector.receive("pipeline_runs", body)
    assert status == 200 and reply["accepted"] == 2
    assert [r["code"] for r in reply["rejected"]] == ["invalid_text"]
    assert collector.receive("pipeline_runs", body)[1]["duplicate"] is True
    for _ in range(200):
        if collector.stats()["loaded_events"] == 2:
            break
        time.sleep(0.05)
    collector.stop()
    wh = DuckDBWarehouse(path, read_only=True)
    rows = wh.execute('SELECT "run_id", "kpi" FROM "pipeline_runs" ORDER BY 1').to_pylist()
    ledger = wh.execute('SELECT "stream", "events" FROM "assay_collector_batches"').to_pylist()
    wh.close()
    assert rows == [{"run_id": "a", "kpi": 1.5}, {"run_id": "c", "kpi": 2.0}]
    assert ledger == [{"stream": "pipeline_runs", "events": 2}]


def test_the_documented_stream_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    example = next(b for b in blocks if "add_stream" in b)
    exec(compile(example, str(DOC), "exec"), {"tmp_dir": tmp_path})  # our own docs
