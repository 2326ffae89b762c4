"""Fault injection for the collector tests: a small file system, a sender that remembers what
was acknowledged, and the exactly-once check against the warehouse and the dead-letter table."""

from __future__ import annotations

import datetime as dt
import json
import resource
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from assay.assign.hashing import bucket
from assay.warehouse import connect

T0 = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)


def event(unit: str, seconds: int = 0, **over: Any) -> dict[str, Any]:
    """One valid exposure of ``checkout_v2`` (the unit's hashed arm)."""
    variant = over.pop("variant", None) or (
        "control" if bucket("checkout_v2", unit) < 5000 else "treatment")
    return {"experiment_id": "checkout_v2", "variant": variant, "unit_id": unit,
            "timestamp": (T0 + dt.timedelta(seconds=seconds)).isoformat()} | over


def batches(n: int, size: int, prefix: str = "b") -> list[tuple[str, list[dict[str, Any]]]]:
    """``n`` batches of ``size`` exposures with unique unit ids."""
    return [(uuid.uuid4().hex, [event(f"{prefix}{b}-u{i}", i) for i in range(size)])
            for b in range(n)]


@dataclass
class Sender:
    """Sends batches and remembers which were acknowledged (200) and what else came back."""

    url: str
    acked: dict[str, list[str]] = field(default_factory=dict)  # batch id -> accepted unit ids
    statuses: list[int] = field(default_factory=list)

    def send(self, todo: list[tuple[str, list[dict[str, Any]]]],
             stop: threading.Event | None = None) -> None:
        with httpx.Client(timeout=30) as client:
            for batch_id, events in todo:
                if stop is not None and stop.is_set():
                    return
                try:
                    body = json.dumps({"batch_id": batch_id, "events": events})  # ASCII
                    reply = client.post(self.url + "/v1/exposures", content=body,
                                        headers={"Content-Type": "application/json"})
                except httpx.TransportError:
                    return  # the collector died: this batch is unacknowledged
                self.statuses.append(reply.status_code)
                if reply.status_code == 200:
                    refused = {r["index"] for r in reply.json()["rejected"]}
                    self.acked[batch_id] = [e["unit_id"] for i, e in enumerate(events)
                                            if i not in refused]

    def unacked(self, todo: list[tuple[str, list[dict[str, Any]]]]
                ) -> list[tuple[str, list[dict[str, Any]]]]:
        return [b for b in todo if b[0] not in self.acked]

    def units(self) -> list[str]:
        return [u for units in self.acked.values() for u in units]


def warehouse_units(url: str, root: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Unit ids in the exposure table, and (unit id, reason) in the dead-letter table."""
    wh = connect(url, base_dir=root, read_only=url.startswith("duckdb"))
    try:
        units = wh.execute('SELECT "unit_id" FROM "exposures"').column(0).to_pylist()
        if wh.columns("assay_collector_dead_letters") is None:
            return units, []
        dead = wh.execute('SELECT "event", "reason" FROM "assay_collector_dead_letters"')
        letters = [(json.loads(e)["unit_id"], r) for e, r in zip(
            dead.column(0).to_pylist(), dead.column(1).to_pylist(), strict=True)]
        return units, letters
    finally:
        wh.close()


def assert_exactly_once(acked: list[str], units: list[str],
                        letters: list[tuple[str, str]] | None = None) -> None:
    """Every acknowledged unit is in the warehouse once, or in the dead letters once with a
    reason; nothing else is anywhere."""
    letters = letters or []
    dead = [u for u, _ in letters]
    assert all(reason for _, reason in letters)
    assert len(units) == len(set(units)), "a unit was loaded twice"
    assert len(dead) == len(set(dead)), "a unit was quarantined twice"
    assert not set(units) & set(dead)
    assert sorted(units + dead) == sorted(acked), (
        f"lost: {len(set(acked) - set(units) - set(dead))}, "
        f"unexpected: {len(set(units) | set(dead) - set(acked))}")


@dataclass
class SmallDisk:
    """A folder on a file system of bounded size: a tmpfs (root), else RLIMIT_FSIZE.

    ``kind`` says which ran: ``"tmpfs"`` bounds the folder; ``"rlimit"`` bounds every file the
    collector process writes (set in the child, raised with ``prlimit``).
    """

    path: Path
    size: int
    kind: str = "tmpfs"
    pid: int | None = None

    def grow(self, size: int) -> None:
        self.size = size
        if self.kind == "tmpfs":
            subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True)
        elif self.pid is not None:
            resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (size, size))

    def child_setup(self) -> None:  # runs in the forked collector before exec
        if self.kind == "rlimit":
            import signal

            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.size, self.size))


@contextmanager
def small_disk(path: Path, size: int) -> Iterator[SmallDisk]:
    """Mount a ``size``-byte tmpfs on ``path`` (unmounted after), or fall back to RLIMIT_FSIZE."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(path)], capture_output=True).returncode == 0
    disk = SmallDisk(path, size, "tmpfs" if mounted else "rlimit")
    try:
        yield disk
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)
