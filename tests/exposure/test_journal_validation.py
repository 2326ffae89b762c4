"""The journal's crash recovery and the event validation rules."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pytest

from assay.exposure.collector import Collector
from assay.exposure.journal import Journal
from assay.exposure.validation import (
    check_exposure,
    check_metric_event,
    timestamp_micros,
    variant_names,
)
from assay.spec.models import ExperimentSpec
from assay.warehouse.duckdb import DuckDBWarehouse

SPEC = ExperimentSpec(id="e", variants=[{"name": "a", "weight": 1}, {"name": "b", "weight": 1}])


def _record(batch_id: str, rows: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {"batch_id": batch_id, "stream": "exposures", "rows": rows or [], "rejected": []}


def _ids(journal: Journal) -> list[str]:
    return [e.summary["batch_id"] for e in journal.entries()]


def test_torn_tail_is_cut_and_complete_records_kept(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(_record("1"))
    position = journal.append(_record("2", [{"x": "é"}]))
    journal.close()
    segment = next(tmp_path.glob("*.seg"))
    with open(segment, "ab") as handle:  # a crash in the middle of the third write
        handle.write(b'0123abcd {"batch_id": "3", "ro')
    reopened = Journal(tmp_path)
    assert _ids(reopened) == ["1", "2"]
    assert reopened.read(position)["rows"] == [{"x": "é"}]
    reopened.append(_record("4"))
    reopened.close()
    assert _ids(Journal(tmp_path)) == ["1", "2", "4"]
    assert segment.read_bytes().endswith(b"\n")  # the torn tail was cut


def test_legacy_single_file_journal_is_read(tmp_path: Path) -> None:
    lines = [json.dumps(_record(str(i), [{"u": i}])) for i in range(3)]
    (tmp_path / "journal.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _ids(Journal(tmp_path)) == ["0", "1", "2"]


@pytest.mark.parametrize(("event", "code"), [
    ({"experiment_id": "e", "variant": "a", "unit_id": "u", "timestamp": "2026-01-01"}, None),
    ({"experiment_id": "e", "variant": "a", "unit_id": 42, "timestamp": "2026-01-01"}, None),
    ({"experiment_id": "x", "variant": "a", "unit_id": "u", "timestamp": "2026-01-01"},
     "unknown_experiment"),
    ({"experiment_id": "e", "variant": "c", "unit_id": "u", "timestamp": "2026-01-01"},
     "unknown_variant"),
    ({"experiment_id": "e", "variant": "a", "timestamp": "2026-01-01"}, "missing_unit_id"),
    ({"experiment_id": "e", "variant": "a", "unit_id": None, "timestamp": "2026-01-01"},
     "missing_unit_id"),
    ({"experiment_id": "e", "variant": "a", "unit_id": "u", "timestamp": "01/02/2026"},
     "malformed_timestamp"),
    ({"experiment_id": "e", "variant": "a", "unit_id": "u", "timestamp": 1700000000},
     "malformed_timestamp"),
    ({"experiment_id": "e", "variant": "a", "unit_id": "u"}, "malformed_timestamp"),
    (["not", "an", "object"], "not_an_object"),
])
def test_exposure_rules(event: object, code: str | None) -> None:
    row, rejection = check_exposure(3, event, variant_names({"e": SPEC}))
    assert (rejection.code if rejection else None) == code
    assert (row is None) == (code is not None)
    if rejection is not None:
        assert rejection.index == 3 and rejection.reason


def test_metric_event_rules() -> None:
    ok = {"unit_id": "u", "timestamp": "2026-01-01T00:00:00Z", "event": "buy", "value": 3}
    micros = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000
    assert check_metric_event(0, ok)[0] == {"unit_id": "u", "timestamp": micros,
                                           "event": "buy", "value": 3.0}
    assert check_metric_event(0, ok | {"value": True})[1].code == "missing_field"  # type: ignore[union-attr]
    assert check_metric_event(0, ok | {"event": ""})[1].code == "missing_field"  # type: ignore[union-attr]


def test_concurrent_appends_all_durable(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    threads = [threading.Thread(target=lambda k=k: [journal.append(_record(f"{k}-{i}"))
                                                    for i in range(50)]) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    journal.close()
    assert len(set(_ids(Journal(tmp_path / "j")))) == 400


def test_concurrent_requests_with_one_batch_id_count_once(tmp_path: Path) -> None:
    collector = Collector({"e": SPEC}, lambda: DuckDBWarehouse(":memory:"), tmp_path / "c")
    batch = {"batch_id": "same", "events": [
        {"experiment_id": "e", "variant": "a", "unit_id": f"u{i}", "timestamp": "2026-01-01"}
        for i in range(200)]}
    replies: list[dict[str, object]] = []
    threads = [threading.Thread(target=lambda: replies.append(
        collector.receive("exposures", batch)[1])) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["duplicate"] for r in replies) == [False] + [True] * 7  # type: ignore[type-var]
    assert all(r["accepted"] == 200 for r in replies)
    assert collector.stats()["exposures_accepted"] == 200
    collector.journal.close()
    assert len(Journal(tmp_path / "c").entries()) == 1


@pytest.mark.parametrize("text", ["2026-11-22T09:30:00.123456+01:00", "1969-12-31T23:59:59.999999",
                                  "2026-11-22T08:30:00Z", "2262-04-11T23:47:16.854775"])
def test_micros_are_exact(text: str) -> None:
    moment = dt.datetime.fromisoformat(text)
    naive = moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)
    delta = naive - dt.datetime(1970, 1, 1)
    expected = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    assert timestamp_micros(text) == expected
