"""Collector throughput on loopback, with a SIGKILL mid-load and a restart: zero loss.

Run: ``.venv/bin/python benchmarks/bench_collector.py [--events 200000] [--batch 1000]``.

Starts ``assay collect`` (DuckDB warehouse) on 127.0.0.1, sends batches from ``--senders``
threads, SIGKILLs the collector when half the batches are acknowledged, restarts it, resends
every unacknowledged batch (same batch ids), waits until everything is loaded, and checks the
warehouse holds every event exactly once. Prints acknowledged events/s and loaded events/s.
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import httpx

PROJECT = "name: bench\nwarehouse: duckdb:///wh.duckdb\n"
EXPERIMENT = ("variants:\n  - {name: control, weight: 1}\n  - {name: treatment, weight: 1}\n")


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(root: Path, port: int) -> subprocess.Popen[bytes]:
    log = open(root / "collector.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([str(Path(sys.executable).with_name("assay")), "collect",
                             "--project", str(root), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=log, start_new_session=True)
    for _ in range(1200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("collector did not start")


def _send(url: str, work: queue.Queue[tuple[str, list[dict[str, Any]]]],
          acked: dict[str, float], stop: threading.Event) -> None:
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            try:
                batch_id, events = work.get_nowait()
            except queue.Empty:
                return
            try:
                reply = client.post(url + "/v1/exposures",
                                    json={"batch_id": batch_id, "events": events})
            except httpx.TransportError:
                return
            if reply.status_code == 200:
                acked[batch_id] = time.perf_counter()


def _run_phase(url: str, batches: list[tuple[str, list[dict[str, Any]]]], senders: int,
               acked: dict[str, float], stop: threading.Event) -> list[threading.Thread]:
    work: queue.Queue[tuple[str, list[dict[str, Any]]]] = queue.Queue()
    for b in batches:
        work.put(b)
    threads = [threading.Thread(target=_send, args=(url, work, acked, stop))
               for _ in range(senders)]
    for t in threads:
        t.start()
    return threads


def _wait_loaded(url: str, expected: int) -> float:
    for _ in range(12_000):
        stats = httpx.get(url + "/v1/stats", timeout=10).json()
        if stats["pending_events"] == 0 and stats["exposures_accepted"] >= expected:
            return time.perf_counter()
        time.sleep(0.02)
    raise RuntimeError(f"not loaded: {stats}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=4)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="assay-bench-collector-"))
    (root / "experiments").mkdir()
    (root / "assay_project.yml").write_text(PROJECT)
    (root / "experiments" / "checkout_v2.yml").write_text(EXPERIMENT)
    n_batches = args.events // args.batch
    batches = [(uuid.uuid4().hex, [{"experiment_id": "checkout_v2",
                                    "variant": ("control", "treatment")[i % 2],
                                    "unit_id": f"b{b}-u{i}", "timestamp": "2026-11-22T08:00:00Z"}
                                   for i in range(args.batch)]) for b in range(n_batches)]
    port = _port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(root, port)
    acked: dict[str, float] = {}
    stop = threading.Event()
    start = time.perf_counter()
    threads = _run_phase(url, batches, args.senders, acked, stop)
    while len(acked) < n_batches // 2:
        time.sleep(0.002)
    first_phase = time.perf_counter() - start
    acked_at_kill = len(acked)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stop.set()
    for t in threads:
        t.join()
    proc = _start(root, port)
    restart = time.perf_counter()
    missing = [b for b in batches if b[0] not in acked]
    for t in _run_phase(url, missing, args.senders, acked, threading.Event()):
        t.join()
    acked_done = time.perf_counter()
    loaded_done = _wait_loaded(url, args.events)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    con = duckdb.connect(str(root / "wh.duckdb"), read_only=True)
    total, distinct = con.execute("SELECT count(*), count(DISTINCT unit_id) FROM exposures"
                                  ).fetchone()
    con.close()
    second_ack = acked_done - restart
    print(f"collector on loopback: {args.events:,} events in batches of {args.batch}, "
          f"{args.senders} senders, SIGKILL after {acked_at_kill}/{n_batches} batches acked")
    print(f"  before kill   {acked_at_kill * args.batch / first_phase:>12,.0f} events/s acked")
    print(f"  after restart {len(missing) * args.batch / second_ack:>12,.0f} events/s acked "
          f"({len(missing)} batches resent)")
    print(f"  end to end    {args.events / (loaded_done - restart + first_phase):>12,.0f} "
          f"events/s loaded (excluding the restart's start-up)")
    print(f"  warehouse rows {total:,} (distinct units {distinct:,}, expected {args.events:,}): "
          + ("ZERO LOSS, NO DUPLICATES" if total == distinct == args.events else "MISMATCH"))


if __name__ == "__main__":
    main()
