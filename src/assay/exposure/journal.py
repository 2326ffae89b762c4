"""The collector's append-only journal: a batch is acknowledged only once it is on disk.

One JSON object per line. ``append`` writes the line, flushes and ``fsync``s before returning,
so an acknowledged batch survives a crash of the process or the machine. A crash *during* a
write can leave a torn last line (never acknowledged); :meth:`Journal.open` cuts it off.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class Journal:
    """An append-only, fsynced JSON-lines file.

    Attributes:
        path: The journal file.
        records: Every complete record, in order (read at open, appended since).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        self.records: list[dict[str, Any]] = self._recover()
        self._file = open(self.path, "ab")  # noqa: SIM115 (held open for the process's life)
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._written = self._synced = 0
        if created:
            _fsync_dir(self.path.parent)

    def _recover(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        raw = self.path.read_bytes()
        records, good = [], 0
        for line in raw.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                records.append(json.loads(line))
            except ValueError:
                break
            good += len(line)
        if good < len(raw):  # a torn tail from a crash mid-write: it was never acknowledged
            with open(self.path, "r+b") as handle:
                handle.truncate(good)
                handle.flush()
                os.fsync(handle.fileno())
        return records

    def append(self, record: dict[str, Any]) -> None:
        """Write one record durably (returns after an ``fsync`` that covers it).

        Group commit: concurrent writers append under a short lock, then one ``fsync`` covers
        every line written so far, so N concurrent batches cost one disk flush, not N.
        """
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        with self._lock:
            self._file.write(line + b"\n")
            self._written += 1
            mine = self._written
            self.records.append(record)
        with self._sync_lock:
            if self._synced >= mine:
                return  # another writer's fsync already covered this line
            with self._lock:
                self._file.flush()
                target = self._written
            os.fsync(self._file.fileno())
            self._synced = target

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._file.close()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
