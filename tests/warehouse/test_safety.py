"""The session is pinned to UTC whatever the process's TZ; DuckDB files are opened read-only
when only read, with a clear message and a bounded wait when another process holds them;
PostgreSQL logins and statements cannot hang forever."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import WarehouseError
from assay.warehouse.duckdb import DuckDBWarehouse

PROBE = """
import sys
from assay.warehouse.duckdb import DuckDBWarehouse
wh = DuckDBWarehouse(":memory:")
print(wh.execute("SELECT current_setting('TimeZone') AS z, CAST(TIMESTAMPTZ "
                 "'2026-11-22 23:30:00+00' AS DATE) AS d, date_trunc('day', TIMESTAMPTZ "
                 "'2026-11-22 23:30:00+00') AS t").to_pylist())
"""


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Los_Angeles", "Asia/Kolkata"])
def test_duckdb_session_is_utc_under_any_tz(zone: str) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], env={"TZ": zone, "PATH": "/usr/bin"},
                         capture_output=True, text=True, check=True).stdout
    reference = subprocess.run([sys.executable, "-c", PROBE], env={"TZ": "UTC", "PATH":
                               "/usr/bin"}, capture_output=True, text=True, check=True).stdout
    assert out == reference and "'UTC'" in out and "2026, 11, 22)" in out


def _hold(path: Path, read_only: bool = False) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1], "
         f"read_only={read_only}); print('held', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_locked_file_is_a_clear_error_after_a_bounded_wait(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    DuckDBWarehouse(path).close()
    holder = _hold(path)
    try:
        began = time.monotonic()
        with pytest.raises(WarehouseError, match="in use by another process"):
            DuckDBWarehouse(path, lock_wait=1.0)
        assert 0.8 < time.monotonic() - began < 30
        assert holder.stdin is not None
        threading.Timer(0.5, holder.stdin.close).start()  # the holder lets go within the wait
        DuckDBWarehouse(path, lock_wait=60).close()
    finally:
        if holder.stdin is not None and not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(30)


def test_the_url_sets_the_lock_wait(tmp_path: Path) -> None:
    from assay.errors import AssayError
    from assay.warehouse import connect

    path = tmp_path / "wh.duckdb"
    DuckDBWarehouse(path).close()
    holder = _hold(path)
    try:
        began = time.monotonic()
        with pytest.raises(WarehouseError, match=r"waited 0\.5 s"):
            connect("duckdb:///wh.duckdb?lock_wait=0.5", base_dir=tmp_path)
        assert 0.4 < time.monotonic() - began < 9  # not the 10 s default
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    connect("duckdb:///wh.duckdb?lock_wait=0", base_dir=tmp_path).close()
    for bad, message in (("lock_wait=soon", "number of seconds"), ("lock_wait=-1", "from 0"),
                         ("lock_wait=nan", "number of seconds"), ("timeout=5", "unknown")):
        with pytest.raises(AssayError, match=message):
            connect(f"duckdb:///wh.duckdb?{bad}", base_dir=tmp_path)


def test_readers_share_a_file(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    with_data = DuckDBWarehouse(path)
    with_data.execute("CREATE TABLE t AS SELECT 1 AS x")
    with_data.close()
    holder = _hold(path, read_only=True)
    try:
        reader = DuckDBWarehouse(path, read_only=True, lock_wait=0)
        assert reader.execute("SELECT x FROM t").column(0).to_pylist() == [1]
        reader.close()
    finally:
        holder.communicate("", timeout=30)


def test_validate_never_creates_a_missing_warehouse_file(tmp_path: Path) -> None:
    from assay.spec.scaffold import scaffold

    scaffold(tmp_path / "p")
    result = CliRunner().invoke(app, ["validate", "--project", str(tmp_path / "p")])
    assert result.exit_code == 3, result.output
    assert "warehouse.duckdb does not exist" in " ".join(result.output.split())
    assert not (tmp_path / "p" / "warehouse.duckdb").exists()


def test_postgres_session_has_a_statement_timeout(postgres_url: str) -> None:
    from assay.warehouse.postgres import PostgresWarehouse

    wh = PostgresWarehouse(postgres_url)
    try:
        assert wh.execute("SHOW statement_timeout").column(0).to_pylist() == ["1h"]
    finally:
        wh.close()


@pytest.mark.slow
def test_a_server_that_never_answers_does_not_hang_the_login() -> None:
    from assay.warehouse.postgres import CONNECT_TIMEOUT_S, PostgresWarehouse

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts (the kernel completes the handshake) and never says a word
    port = silent.getsockname()[1]
    try:
        began = time.monotonic()
        with pytest.raises(WarehouseError):
            PostgresWarehouse(f"postgresql://u@127.0.0.1:{port}/db")
        assert time.monotonic() - began < CONNECT_TIMEOUT_S + 10
    finally:
        silent.close()


def test_a_bad_lock_wait_is_a_located_spec_error(tmp_path: Path) -> None:
    (tmp_path / "assay_project.yml").write_text(
        "name: p\nwarehouse: duckdb:///w.duckdb?lock_wait=soon\n"
        "exposures: {table: exposures}\n", encoding="utf-8")
    done = CliRunner().invoke(app, ["validate", "--offline", "-p", str(tmp_path)])
    assert done.exit_code == 2, done.output
    assert "assay_project.yml:2: warehouse: lock_wait must be a number of seconds" in \
        done.output
