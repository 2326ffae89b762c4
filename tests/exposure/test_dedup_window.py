"""Batch ids are remembered for the journal's dedup window, not forever: a retry within the
window is a duplicate across restarts; after it the id is forgotten, on disk and in memory.
And one journal record for every writer (the collector and the pipeline run sink)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from assay.exposure.collector import Collector
from assay.exposure.journal import DEDUP_WINDOW, Journal, frame, unframe
from assay.pipelines.sinks import JOURNAL_DIR, JournalRunSink
from assay.spec.models import ExperimentSpec
from assay.warehouse.duckdb import DuckDBWarehouse

SPEC = ExperimentSpec(id="e", variants=[{"name": "a", "weight": 1}, {"name": "b", "weight": 1}])
RECORD_KEYS = {"batch_id", "stream", "rows", "rejected", "received_at"}


def _event(unit: str) -> dict[str, str]:
    return {"experiment_id": "e", "variant": "a", "unit_id": unit,
            "timestamp": "2026-01-05T10:00:00Z"}


def _collector(folder: Path, window: dt.timedelta = DEDUP_WINDOW) -> Collector:
    return Collector({"e": SPEC}, lambda: DuckDBWarehouse(":memory:"), folder,
                     segment_bytes=2048, dedup_window=window)


def _send(collector: Collector, batch_id: str) -> dict[str, object]:
    status, answer = collector.receive("exposures", {
        "batch_id": batch_id, "events": [_event(f"{batch_id}-{i}") for i in range(8)]})
    assert status == 200, answer
    return answer


def _ids(folder: Path, window: dt.timedelta) -> set[str]:
    journal = Journal(folder, dedup_window=window)
    journal.close()
    return {e.summary["batch_id"] for e in journal.entries()}


def test_loaded_batch_ids_expire_from_the_index_after_the_window(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=2048)
    for i in range(30):
        journal.append_batch("exposures", [{"unit_id": f"b{i}-{j}"} for j in range(8)],
                             batch_id=f"b{i}")
    assert len(journal.mark_loaded({f"b{i}" for i in range(30)})) > 2
    journal.close()
    assert _ids(tmp_path, DEDUP_WINDOW) == {f"b{i}" for i in range(30)}
    index = tmp_path / "batches.idx"
    retired = {json.loads(line[9:])["batch_id"] for line in index.read_bytes().splitlines()}
    assert retired and retired < {f"b{i}" for i in range(30)}
    time.sleep(1.2)
    kept = _ids(tmp_path, dt.timedelta(seconds=1))  # the index is compacted at open
    assert kept == {f"b{i}" for i in range(30)} - retired  # the active segment's stay
    assert index.read_bytes() == b""


def test_unloaded_batches_are_never_forgotten(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=2048)
    for i in range(10):
        journal.append_batch("exposures", [{"unit_id": f"u{j}"} for j in range(8)],
                             batch_id=f"p{i}")
    journal.close()
    time.sleep(1.2)
    assert _ids(tmp_path, dt.timedelta(seconds=1)) == {f"p{i}" for i in range(10)}


def test_a_summary_of_an_earlier_version_is_stamped_and_kept_one_window(tmp_path: Path) -> None:
    old = {"batch_id": "legacy", "stream": "exposures", "accepted": 3, "rejected": []}
    (tmp_path / "batches.idx").write_bytes(frame(old))
    assert _ids(tmp_path, dt.timedelta(seconds=1)) == {"legacy"}
    stamped = unframe((tmp_path / "batches.idx").read_bytes())
    assert stamped is not None and stamped["received_at"] is not None
    time.sleep(1.2)
    assert _ids(tmp_path, dt.timedelta(seconds=1)) == set()


def test_a_retry_within_the_window_is_a_duplicate_across_restarts(tmp_path: Path) -> None:
    collector = _collector(tmp_path)
    for i in range(20):
        _send(collector, f"b{i}")
    collector.journal.mark_loaded({f"b{i}" for i in range(20)})  # most retire to the index
    collector.journal.close()
    again = _collector(tmp_path)
    assert all(_send(again, f"b{i}")["duplicate"] for i in range(20))
    assert again.stats()["exposures_accepted"] == 160
    again.journal.close()


def test_the_collector_forgets_ids_older_than_the_window(tmp_path: Path) -> None:
    collector = _collector(tmp_path, dt.timedelta(seconds=1))
    _send(collector, "old")
    assert _send(collector, "old")["duplicate"]
    time.sleep(1.2)
    _send(collector, "new")  # remembering it forgets what expired
    assert set(collector._batches) == {"new"}
    assert _send(collector, "old")["duplicate"] is False  # after the window: a new batch
    collector.journal.close()


def test_the_collector_and_the_run_sink_journal_the_same_record(tmp_path: Path) -> None:
    collector = _collector(tmp_path / "c")
    _send(collector, "x")
    collector.journal.close()
    sink = JournalRunSink(tmp_path / "s", lambda: DuckDBWarehouse(tmp_path / "wh.duckdb"))
    sink.write("pipeline_runs", [{"run_id": "r1"}])
    sink.loader.stop(0)
    sink.journal.close()
    records = []
    for folder in (tmp_path / "c", tmp_path / "s" / JOURNAL_DIR):
        for segment in sorted(folder.glob("*.seg")):
            records += [unframe(line) for line in segment.read_bytes().splitlines()]
    assert len(records) == 2 and all(r is not None and set(r) == RECORD_KEYS for r in records)
    for r in records:
        assert r is not None and dt.datetime.fromisoformat(r["received_at"]).tzinfo is not None
