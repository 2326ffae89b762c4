"""The journal under faults: a full disk, damaged records, rotation and retirement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from faults import small_disk
from tests.engines import unavailable

from assay.errors import AssayError
from assay.exposure.collector import Collector
from assay.exposure.journal import Journal, JournalError, JournalWriteError, frame
from assay.spec.models import ExperimentSpec
from assay.warehouse.duckdb import DuckDBWarehouse


def _record(batch_id: str, n: int = 0) -> dict[str, object]:
    return {"batch_id": batch_id, "stream": "exposures", "rejected": [],
            "rows": [{"unit_id": f"{batch_id}-{i}", "pad": "x" * 100} for i in range(n)]}


def _ids(folder: Path) -> list[str]:
    journal = Journal(folder)
    journal.close()
    return [e.summary["batch_id"] for e in journal.entries()]


def test_a_write_on_a_full_disk_is_refused_and_leaves_no_torn_record(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 256 * 1024) as disk:
        if disk.kind != "tmpfs":  # the subprocess fault suite covers the RLIMIT fallback
            unavailable("mounting a tmpfs needs root (test_faults covers RLIMIT_FSIZE)")
        journal = Journal(disk.path)
        acked, refused = [], []
        for i in range(120):  # ~4 KB each: the disk fills after about 60
            try:
                journal.append(_record(f"b{i}", 30))
                acked.append(f"b{i}")
            except JournalWriteError:
                refused.append(f"b{i}")
        assert acked and refused
        segment = next(disk.path.glob("*.seg"))
        assert segment.read_bytes().endswith(b"\n")  # cut back to the last durable record
        disk.grow(8 * 1024 * 1024)
        for batch_id in refused:  # the client retries; now there is room
            journal.append(_record(batch_id, 30))
        journal.close()
        assert _ids(disk.path) == acked + refused
        assert Journal(disk.path).damaged_records == 0


def test_recovery_skips_only_a_damaged_record(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for i in range(3):
        journal.append(_record(f"a{i}", 2))
    journal.close()
    segment = next(tmp_path.glob("*.seg"))
    good = [frame(_record(f"c{i}", 2)) for i in range(3)]
    damaged = bytearray(frame(_record("bad", 2)))
    damaged[40] ^= 0x01  # one flipped bit: the checksum no longer matches
    torn = frame(_record("torn", 2))[:25]  # a torn write whose truncation failed ...
    with open(segment, "ab") as handle:  # ... with the next record glued on
        handle.write(good[0] + bytes(damaged) + good[1] + torn + good[2])
    reopened = Journal(tmp_path)
    assert [e.summary["batch_id"] for e in reopened.entries()] == [
        "a0", "a1", "a2", "c0", "c1", "c2"]
    assert reopened.damaged_records == 2
    assert reopened.read(reopened.entries()[-1].position)["rows"][1]["unit_id"] == "c2-1"  # type: ignore[arg-type]


def test_loaded_segments_are_retired_and_still_known(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=4096)
    for i in range(40):
        journal.append(_record(f"b{i}", 3))
    segments = sorted(tmp_path.glob("*.seg"))
    assert len(segments) > 3
    before = journal.disk_bytes()
    retired = journal.mark_loaded({f"b{i}" for i in range(40)})
    assert len(retired) == len(segments) - 1  # all but the active segment
    assert journal.disk_bytes() < before / 3
    journal.close()
    reopened = Journal(tmp_path)
    entries = reopened.entries()
    assert sorted(e.summary["batch_id"] for e in entries) == sorted(f"b{i}" for i in range(40))
    assert all(e.summary["accepted"] == 3 for e in entries)  # the duplicate answer survives


def test_an_unusable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(JournalError, match="cannot use the collector's data folder") as caught:
        Journal(blocker / "journal")
    assert isinstance(caught.value, AssayError)


def test_a_legacy_record_without_checksum_is_read(tmp_path: Path) -> None:
    (tmp_path / "journal.jsonl").write_text(json.dumps(_record("old", 1)) + "\n",
                                            encoding="utf-8")
    spec = ExperimentSpec(id="e", variants=[{"name": "a", "weight": 1}, {"name": "b", "weight": 1}])
    collector = Collector({"e": spec}, lambda: DuckDBWarehouse(":memory:"), tmp_path)
    assert collector.stats()["exposures_accepted"] == 1
    collector.journal.close()


def test_assay_collect_with_an_unusable_data_dir_says_so(tmp_path: Path) -> None:
    from collector_proc import write_project
    from typer.testing import CliRunner

    from assay.cli import app

    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(app, ["collect", "--project", str(write_project(tmp_path / "p")),
                                      "--data-dir", str(blocker / "journal")])
    assert result.exit_code == 1
    assert "cannot use the collector's data folder" in " ".join(result.output.split())
    assert "Traceback" not in result.output
