"""A small project on disk and a real `assay collect` process on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from assay.exposure.collector import Collector, create_app

PROJECT = """\
name: collector_test
warehouse: {warehouse}
"""
EXPERIMENT = """\
variants:
  - {name: control, weight: 1, control: true}
  - {name: treatment, weight: 1}
"""
START_TIMEOUT = 60.0


def write_project(root: Path, warehouse: str = "duckdb:///wh.duckdb") -> Path:
    """A minimal project: one experiment, a DuckDB warehouse file (or the URL given)."""
    (root / "experiments").mkdir(parents=True, exist_ok=True)
    (root / "assay_project.yml").write_text(PROJECT.format(warehouse=warehouse),
                                            encoding="utf-8")
    (root / "experiments" / "checkout_v2.yml").write_text(EXPERIMENT, encoding="utf-8")
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class CollectorProcess:
    """A running ``assay collect`` subprocess."""

    root: Path
    port: int
    warehouse: str = "duckdb:///wh.duckdb"
    process: subprocess.Popen[bytes] | None = None
    args: list[str] = field(default_factory=list)  # more `assay collect` options
    preexec: Callable[[], None] | None = None  # runs in the child before exec

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None
        log = open(self.root / "collector.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("assay")), "collect", "--project", str(self.root),
             "--host", "127.0.0.1", "--port", str(self.port), *self.args],
            stdout=log, stderr=log, start_new_session=True, preexec_fn=self.preexec)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.root / "collector.log").read_text())
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("collector did not start in time")

    def rows(self) -> list[tuple[Any, ...]]:
        """The exposure table, ordered by unit id (the collector must be stopped for DuckDB)."""
        from assay.warehouse import connect

        wh = connect(self.warehouse, base_dir=self.root, read_only=True) \
            if self.warehouse.startswith("duckdb") else connect(self.warehouse)
        try:
            table = wh.execute('SELECT "experiment_id", "variant", "unit_id", "timestamp" '
                               'FROM "exposures" ORDER BY "unit_id"')
        finally:
            wh.close()
        return list(zip(*(table.column(i).to_pylist() for i in range(4)), strict=True))

    def stats(self) -> dict[str, Any]:
        """``GET /v1/stats``."""
        result: dict[str, Any] = httpx.get(self.url + "/v1/stats", timeout=5.0).json()
        return result

    def kill(self) -> None:
        """SIGKILL: no clean-up runs."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """SIGTERM: graceful shutdown (the loader finishes its transaction)."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def wait_loaded(self, expected: int, timeout: float = 60.0) -> dict[str, object]:
        """Poll /v1/stats until nothing is pending and ``expected`` events were accepted."""
        deadline = time.monotonic() + timeout
        stats: dict[str, object] = {}
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats["pending_events"] == 0 and stats["exposures_accepted"] == expected:
                return stats
            time.sleep(0.1)
        raise AssertionError(f"not loaded in time: {stats}")


class Served:
    """A uvicorn server for a collector, in a thread."""

    def __init__(self, collector: Collector, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(create_app(collector), host="127.0.0.1",
                                                    port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
