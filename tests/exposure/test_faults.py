"""The collector's fault suite: SIGKILL at random points, a full disk, a failing loader and
poison events, each on DuckDB and PostgreSQL, each ending with the same check: every
acknowledged event is in the warehouse exactly once, or in the dead-letter table with a reason.

Every scenario runs real `assay collect` processes on 127.0.0.1 (the disk is a real 1 MB tmpfs
when mounting is allowed, else RLIMIT_FSIZE on the collector process: `SmallDisk.kind`)."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from collector_proc import CollectorProcess, free_port, write_project
from faults import Sender, assert_exactly_once, batches, event, small_disk, warehouse_units

pytestmark = pytest.mark.slow
FAST_RETRY = ["--retry-max", "0.3"]


@pytest.fixture(params=["duckdb", "postgres"])
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """The warehouse URL: a DuckDB file in the project, or the test PostgreSQL server."""
    if request.param == "duckdb":
        yield "duckdb:///wh.duckdb"
        return
    request.getfixturevalue("postgres_wh")  # an empty database
    yield request.getfixturevalue("postgres_url")


@pytest.fixture
def make(tmp_path: Path, engine: str) -> Iterator[object]:
    procs: list[CollectorProcess] = []

    def factory(*args: str, preexec: object = None) -> CollectorProcess:
        proc = CollectorProcess(write_project(tmp_path / "project", engine), free_port(),
                                engine, args=[*FAST_RETRY, *args], preexec=preexec)  # type: ignore[arg-type]
        procs.append(proc)
        return proc

    yield factory
    for proc in procs:
        if proc.process is not None:
            proc.kill()


def _check(proc: CollectorProcess, sender: Sender) -> list[tuple[str, str]]:
    proc.stop()
    units, letters = warehouse_units(proc.warehouse, proc.root)
    assert_exactly_once(sender.units(), units, letters)
    return letters


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_at_random_points(make: object, seed: int) -> None:
    rng = random.Random(seed)
    proc: CollectorProcess = make()  # type: ignore[operator]
    todo = batches(60, 200)
    sender = Sender(proc.url)
    for _ in range(3):
        proc.start()
        stop = threading.Event()
        thread = threading.Thread(target=sender.send, args=(sender.unacked(todo), stop))
        thread.start()
        time.sleep(rng.uniform(0.05, 1.5))
        proc.kill()
        stop.set()
        thread.join(30)
    proc.start()
    sender.send(sender.unacked(todo) + todo[:3])  # and a few acknowledged ones again
    assert len(sender.acked) == len(todo)
    proc.wait_loaded(60 * 200)
    _check(proc, sender)


def test_disk_full_never_loses_an_acknowledged_batch(make: object, tmp_path: Path) -> None:
    with small_disk(tmp_path / "journal", 1024 * 1024) as disk:
        print("small disk:", disk.kind)
        proc: CollectorProcess = make("--data-dir", str(disk.path),  # type: ignore[operator]
                                      preexec=disk.child_setup)
        proc.start()
        disk.pid = proc.process.pid if proc.process else None
        todo = batches(80, 200)
        sender = Sender(proc.url)
        sender.send(todo)
        assert 500 not in sender.statuses
        assert 503 in sender.statuses  # the disk filled up: refused, not acknowledged
        assert 0 < len(sender.acked) < len(todo)
        stats = proc.stats()
        assert stats["refused_requests"]["journal_write_failed"] >= 1
        assert httpx.get(proc.url + "/healthz").json()["status"] == "degraded"
        disk.grow(64 * 1024 * 1024)
        sender.send(sender.unacked(todo))  # the client retries what was refused
        assert len(sender.acked) == len(todo)
        proc.kill()
        proc.start()  # recovery keeps every acknowledged batch, and knows them again
        sender.send(todo[:5])
        stats = proc.wait_loaded(80 * 200)
        assert stats["duplicate_batches"] == 5 and stats["damaged_journal_records"] == 0
        _check(proc, sender)


def _hold_duckdb_lock(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
         "print('locked', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def _break_postgres_connections(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")


def test_loader_failure_is_retried_and_reported(make: object, engine: str) -> None:
    proc: CollectorProcess = make()  # type: ignore[operator]
    todo = batches(20, 100)
    sender = Sender(proc.url)
    holder = _hold_duckdb_lock(proc.root / "wh.duckdb") if engine.startswith("duckdb") else None
    try:
        proc.start()
        for i, batch in enumerate(todo):
            if holder is None and i % 4 == 0:
                time.sleep(0.3)
                _break_postgres_connections(engine)  # the loader's connection dies under it
            sender.send([batch])
        stats = proc.stats()
        for _ in range(300):  # opening a locked file waits a while before it fails
            if stats["load_errors"]:
                break
            time.sleep(0.1)
            stats = proc.stats()
        assert stats["load_errors"], stats
        if holder is not None:  # locked at start: nothing loads, and both endpoints say so
            assert stats["loaded_events"] == 0 and stats["loader"]["state"] == "retrying"
            assert "in use by another process" in stats["load_errors"][-1]
            health = httpx.get(proc.url + "/healthz").json()
            assert health["status"] == "degraded" and health["loader"]["last_error"]
    finally:
        if holder is not None:
            holder.communicate("", timeout=30)
    stats = proc.wait_loaded(20 * 100)
    assert stats["loader"]["state"] == "running"
    assert httpx.get(proc.url + "/healthz").json()["status"] == "ok"
    _check(proc, sender)


def _checked_table(engine: str, root: Path) -> None:
    """An exposure table whose CHECK refuses unit ids starting with `poison`."""
    from assay.warehouse import connect

    text = "VARCHAR" if engine.startswith("duckdb") else "TEXT"
    wh = connect(engine, base_dir=root)
    try:
        wh.execute(f'CREATE TABLE "exposures" ("experiment_id" {text}, "variant" {text}, '
                   f'"unit_id" {text} CHECK ("unit_id" NOT LIKE \'poison%\'), '
                   '"timestamp" TIMESTAMP)')
    finally:
        wh.close()


def test_poison_events_are_quarantined_and_never_block(make: object, engine: str) -> None:
    proc: CollectorProcess = make()  # type: ignore[operator]
    _checked_table(engine, proc.root)
    todo = batches(30, 100)
    todo[5][1][17] = event("poison-1")
    todo[12][1][3] = event("poison-2")
    todo[8][1][0] = event("nul\x00id")  # refused at ingest: PostgreSQL stores no NUL
    todo[9][1][0] = event("\ud800", variant="control")  # a lone surrogate: no sink stores it
    proc.start()
    sender = Sender(proc.url)
    sender.send(todo)
    assert len(sender.acked) == 30 and len(sender.units()) == 30 * 100 - 2
    stats = proc.wait_loaded(30 * 100 - 2)
    assert stats["rejected"] == {"invalid_text": 2}
    assert stats["dead_letter_events"] == 2
    letters = _check(proc, sender)
    assert sorted(u for u, _ in letters) == ["poison-1", "poison-2"]
    assert all("constraint" in reason.lower() for _, reason in letters), letters
