"""The SDK exposure logger: dedup, batching, retries with the same batch id, flush at exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
from collector_proc import Served, free_port

from assay.exposure import ExposureLogger, HttpSink, ListSink
from assay.exposure.collector import Collector
from assay.spec.models import ExperimentSpec
from assay.warehouse.duckdb import DuckDBWarehouse

SPEC = ExperimentSpec(id="checkout_v2", variants=[
    {"name": "control", "weight": 1}, {"name": "treatment", "weight": 1}])


def test_dedup_and_batches() -> None:
    sink = ListSink()
    logger = ExposureLogger(sink, batch_size=40, flush_interval=30)
    for _ in range(3):
        for i in range(100):
            logger.log("e", "a", f"u{i}")
    logger.log("other", "a", "u1")  # another experiment: a separate exposure
    logger.close()
    assert logger.stats.logged == 101 and logger.stats.duplicates == 200
    assert sorted(len(b) for b in sink.batches.values()) == [21, 40, 40]
    assert len({(e.experiment_id, e.unit_id) for e in sink.events}) == 101


def test_concurrent_logging_logs_each_unit_once() -> None:
    sink = ListSink()
    logger = ExposureLogger(sink, batch_size=50, flush_interval=0.01)

    def work() -> None:
        for i in range(2000):
            logger.log("e", "a", f"u{i}")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logger.close()
    assert sorted(e.unit_id for e in sink.events) == sorted(f"u{i}" for i in range(2000))


def test_retries_until_the_collector_is_up(tmp_path: Path) -> None:
    port = free_port()
    logger = ExposureLogger(HttpSink(f"http://127.0.0.1:{port}", timeout=2), batch_size=5,
                            flush_interval=0.05, max_attempts=60, backoff=0.05)
    for i in range(12):
        logger.log("checkout_v2", "control", f"u{i}")
    time.sleep(0.3)  # the first attempts are refused: nothing listens yet
    assert logger.stats.sent == 0
    collector = Collector({SPEC.id: SPEC}, lambda: DuckDBWarehouse(tmp_path / "wh.duckdb"),
                          tmp_path / "journal")
    server = Served(collector, port)
    try:
        logger.close()
        assert logger.stats.sent == 12 and logger.stats.failed == 0
        assert collector.stats()["exposures_accepted"] == 12
    finally:
        server.stop()


def test_flushed_at_interpreter_exit(tmp_path: Path) -> None:
    db = tmp_path / "wh.duckdb"
    script = textwrap.dedent(f"""
        from assay.exposure import ExposureLogger, WarehouseSink
        from assay.warehouse.duckdb import DuckDBWarehouse
        logger = ExposureLogger(WarehouseSink(DuckDBWarehouse({str(db)!r})),
                                flush_interval=3600, batch_size=10_000)
        for i in range(7):
            logger.log("e", "a", f"u{{i}}")
        # no close(): the atexit hook must flush
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM exposures").fetchone() == (7,)
    finally:
        con.close()
