"""The dashboard keeps one connection to a server warehouse, and none to a DuckDB file.

Measured through PostgreSQL's own view of its backends (``pg_stat_activity``): the server
sees the same single client across page views, and none once the app has shut down. A backend
leaves that view a moment after its client hangs up (its exit is asynchronous), so the last
check waits a few seconds for it; a connection the app kept open would never leave.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient
from tests.store.cli import set_key

from assay.spec.project import load_project
from assay.warehouse import Warehouse
from assay.web.app import create_app

_PROJECT = Path(__file__).parents[2] / "src" / "assay" / "demo" / "project"


def _clients(wh: Warehouse) -> list[int]:
    rows = wh.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                      "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
    return sorted(int(r["pid"]) for r in rows.to_pylist())


def _clients_after_hang_up(wh: Warehouse, seconds: float = 10.0) -> list[int]:
    """The clients still there once hung-up backends have had ``seconds`` to exit."""
    deadline = time.monotonic() + seconds
    while (pids := _clients(wh)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


@pytest.mark.postgres
def test_page_views_share_one_postgres_connection(tmp_path: Path, postgres_wh: Warehouse,
                                                  postgres_url: str) -> None:
    root = Path(shutil.copytree(_PROJECT, tmp_path / "project"))
    set_key(root / "assay_project.yml", "warehouse", postgres_url)
    seen = []
    with TestClient(create_app(load_project(root))) as client:
        for path in ("/", "/api/experiments", "/", "/experiments/homepage_aa"):
            assert client.get(path).status_code == 200
            seen.append(_clients(postgres_wh))
    assert len(seen[0]) == 1 and all(pids == seen[0] for pids in seen), seen
    assert _clients_after_hang_up(postgres_wh) == []  # closed when the app shut down


def test_a_duckdb_file_is_not_held_between_page_views(tmp_path: Path) -> None:
    root = Path(shutil.copytree(_PROJECT, tmp_path / "project"))
    duckdb.connect(str(root / "warehouse.duckdb")).close()
    with TestClient(create_app(load_project(root))) as client:
        assert client.get("/").status_code == 200
        writer = ("import duckdb, sys; duckdb.connect(sys.argv[1])"
                  ".execute('CREATE TABLE probe AS SELECT 1 AS x')")
        done = subprocess.run([sys.executable, "-c", writer, str(root / "warehouse.duckdb")],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr  # another process may write between views
        assert client.get("/").status_code == 200
