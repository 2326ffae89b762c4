"""The collector's journal: a batch is acknowledged only once it is on disk, checksummed.

The journal is a folder of append-only segment files (``000001.seg``, ``000002.seg`` ...), one
framed record per line: ``CRC32 JSON\\n`` where ``CRC32`` is 8 hex digits over the JSON bytes.
:meth:`Journal.append` writes a record, then one ``fsync`` (shared by concurrent writers: group
commit) makes it durable before the caller acknowledges it.

A write that fails (disk full, I/O error) is *not* acknowledged: the caller gets
:class:`JournalWriteError` and the file is truncated back to the end of the last durable record,
so later records never sit behind a torn one. Should the truncation itself fail, recovery still
holds: it checks every frame's checksum and skips only a damaged record, keeping every intact
record after it (a torn tail is cut off).

Once every batch of a closed segment is in the warehouse, :meth:`Journal.retire` moves the
batches' summaries (id, stream, counts, rejections, time received: what a duplicate request is
answered with) to ``batches.idx`` and deletes the segment, so the journal on disk and in memory
stays bounded by what is not yet loaded. Rows are never held in memory: the loader reads them
back by :class:`Position`.

Batch ids are remembered for :data:`DEDUP_WINDOW` (7 days) after their batch was received: a
retry within the window, across any number of restarts, is answered as a duplicate; summaries
older than that are dropped from ``batches.idx`` when it is compacted (at open, and when a
segment is retired once the oldest summary has expired), so the index is bounded by the traffic
of one window. A batch id sent again after the window is a new batch. Batches not yet loaded
are never forgotten, however old.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.errors import AssayError

log = logging.getLogger("assay.collector")
SEGMENT_BYTES = 64 * 1024 * 1024
DEDUP_WINDOW = dt.timedelta(days=7)
"""How long a batch id is remembered after its batch was received (retries within it are
answered as duplicates)."""
_INDEX = "batches.idx"
_LEGACY = "journal.jsonl"  # the single-file journal of earlier versions, read as segment 0
_FRAME = re.compile(rb"[0-9a-f]{8} \{")


class JournalError(AssayError):
    """The journal's folder cannot be used (missing permission, not a folder)."""


class JournalWriteError(AssayError):
    """A record could not be made durable; it was not written and must not be acknowledged."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where a record lives: segment number, byte offset and length of its frame."""

    segment: int
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class Entry:
    """A batch as recovered from the journal: its summary and, unless retired, its rows' place.

    Attributes:
        summary: ``batch_id``, ``stream``, ``accepted`` (row count) and ``rejected``.
        position: Where the full record is, or None once the segment was retired (loaded).
    """

    summary: dict[str, Any]
    position: Position | None


def summary_of(record: dict[str, Any]) -> dict[str, Any]:
    """What a duplicate request is answered with: the record without its rows (and when it was
    received, which says when its id may be forgotten)."""
    return {"batch_id": record["batch_id"], "stream": record["stream"],
            "accepted": len(record["rows"]), "rejected": record["rejected"],
            "received_at": record.get("received_at")}


def received_at(summary: dict[str, Any]) -> dt.datetime | None:
    """When a summary's batch was received (None for a summary of an earlier version)."""
    text = summary.get("received_at")
    try:
        moment = dt.datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def frame(record: dict[str, Any]) -> bytes:
    """One journal line: checksum, space, JSON (ASCII-escaped, so never a raw newline)."""
    body = json.dumps(record, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    data = body.encode("ascii")
    return b"%08x " % zlib.crc32(data) + data + b"\n"


def unframe(line: bytes) -> dict[str, Any] | None:
    """The record of one line, or None if it is damaged (bad checksum, not JSON)."""
    line = line.rstrip(b"\n")
    if line.startswith(b"{"):  # a legacy line without a checksum
        return _json_object(line)
    if len(line) < 10 or line[8:9] != b" ":
        return None
    try:
        expected = int(line[:8], 16)
    except ValueError:
        return None
    body = line[9:]
    return _json_object(body) if zlib.crc32(body) == expected else None


def _json_object(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) and "batch_id" in value else None


@dataclass
class _Segment:
    number: int
    path: Path
    unloaded: set[str] = field(default_factory=set)
    summaries: list[dict[str, Any]] = field(default_factory=list)


class Journal:
    """The segmented, checksummed, fsynced journal of one collector.

    Args:
        folder: The journal's folder (created if needed).
        segment_bytes: A segment is closed and a new one begun past this size.
        dedup_window: How long the summary of a loaded batch is kept (its id remembered).

    Raises:
        JournalError: The folder cannot be created, written or read.
    """

    def __init__(self, folder: str | Path, *, segment_bytes: int = SEGMENT_BYTES,
                 dedup_window: dt.timedelta = DEDUP_WINDOW) -> None:
        self.folder = Path(folder)
        self.segment_bytes = segment_bytes
        self.dedup_window = dedup_window
        self._index_oldest: dt.datetime | None = None
        self.damaged_records = 0
        self._segments: dict[int, _Segment] = {}
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._entries = list(self._recover())
            self._open_active(max(self._segments, default=0) + 1)
        except OSError as err:
            raise JournalError(f"cannot use the collector's data folder {self.folder}: "
                               f"{err.strerror or err} (check that it is a writable "
                               "folder, or pass --data-dir)") from err

    # -- recovery ----------------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """Every batch found at open: retired summaries first, then segment records."""
        return list(self._entries)

    def _recover(self) -> Iterator[Entry]:
        for summary in self._compact_index():
            yield Entry(summary, None)
        legacy = self.folder / _LEGACY
        if legacy.exists():
            yield from self._recover_segment(0, legacy)
        for path in sorted(self.folder.glob("*.seg")):
            if path.stem.isdigit():
                yield from self._recover_segment(int(path.stem), path)

    def _recover_segment(self, number: int, path: Path) -> Iterator[Entry]:
        segment = self._segments[number] = _Segment(number, path)
        for (offset, length), record in self._scan(path, cut_tail=True):
            summary = summary_of(record)
            segment.summaries.append(summary)
            if summary["accepted"]:
                segment.unloaded.add(summary["batch_id"])
            yield Entry(summary, Position(number, offset, length))

    def _scan(self, path: Path, *, cut_tail: bool) -> Iterator[tuple[tuple[int, int],
                                                                      dict[str, Any]]]:
        raw = path.read_bytes()
        offset = 0
        for line in raw.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # a torn tail: never acknowledged
            found = self._frame_in(line, offset)
            if found is not None:
                yield found
            offset += len(line)
        if cut_tail and offset < len(raw):
            log.warning("journal %s: cut a torn tail of %d bytes", path, len(raw) - offset)
            with open(path, "r+b") as handle:
                handle.truncate(offset)
                os.fsync(handle.fileno())

    def _frame_in(self, line: bytes, offset: int) -> tuple[tuple[int, int],
                                                           dict[str, Any]] | None:
        record = unframe(line)
        if record is not None:
            return (offset, len(line)), record
        # damaged: a torn write whose truncation failed may have the next record glued on
        for match in _FRAME.finditer(line, 1):
            record = unframe(line[match.start():])
            if record is not None:
                self.damaged_records += 1
                log.error("journal: skipped a damaged record at byte %d", offset)
                return (offset + match.start(), len(line) - match.start()), record
        self.damaged_records += 1
        log.error("journal: skipped a damaged record at byte %d", offset)
        return None

    # -- writing -----------------------------------------------------------------------------

    def _open_active(self, number: int) -> None:
        path = self.folder / f"{number:06d}.seg"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._active = self._segments[number] = _Segment(number, path)
        self._end = self._durable_end = os.fstat(self._fd).st_size
        self._written = self._synced = 0
        self._epoch = 0
        _fsync_dir(self.folder)

    def append_batch(self, stream: str, rows: list[dict[str, Any]], *,
                     batch_id: str | None = None, rejected: list[dict[str, Any]] | None = None,
                     ) -> tuple[dict[str, Any], Position]:
        """Journal one batch of ``stream`` durably: the record every writer shares.

        Args:
            stream: The stream the rows belong to (``exposures``, ``pipeline_runs`` ...).
            rows: The accepted rows.
            batch_id: The client's id (what a retry is recognised by); a fresh one if None.
            rejected: The rejections to answer duplicates with (``Rejection.to_json()``).

        Returns:
            The batch's summary (what the loader queues and a duplicate is answered with) and
            where its record is.

        Raises:
            JournalWriteError: The batch is not durable: do not acknowledge it.
        """
        record = {"batch_id": batch_id or uuid.uuid4().hex, "stream": stream, "rows": rows,
                  "rejected": list(rejected or []),
                  "received_at": dt.datetime.now(dt.UTC).isoformat()}
        position = self.append(record)
        return summary_of(record), position

    def append(self, record: dict[str, Any]) -> Position:
        """Write one record durably (returns after an ``fsync`` that covers it).

        Raises:
            JournalWriteError: The record is not durable (and not in the file): do not
                acknowledge it.
        """
        data = frame(record)
        summary = summary_of(record)
        with self._lock:
            try:
                self._restore_end()
                start = self._end
                _write_all(self._fd, data)
            except OSError as err:
                self._truncate_to(self._durable_end if self._end < 0 else start)
                raise JournalWriteError(f"journal write failed: {err.strerror or err}") from err
            self._end = start + len(data)
            self._written += 1
            mine, epoch = self._written, self._epoch
            segment = self._active
            segment.summaries.append(summary)  # before the fsync: never retired under us
            if summary["accepted"]:
                segment.unloaded.add(summary["batch_id"])
        try:
            self._sync(mine, epoch)
        except JournalWriteError:
            with self._lock:
                segment.summaries.remove(summary)
                segment.unloaded.discard(summary["batch_id"])
            raise
        return Position(segment.number, start, len(data))

    def _sync(self, mine: int, epoch: int) -> None:
        with self._sync_lock:
            with self._lock:
                if epoch != self._epoch:
                    raise JournalWriteError("journal fsync failed; the record was dropped")
                if self._synced >= mine:
                    return  # another writer's fsync already covered this record
                target, end = self._written, self._end
            try:
                os.fsync(self._fd)
            except OSError as err:
                with self._lock:  # every record since the last durable one is dropped
                    self._truncate_to(self._durable_end)
                    self._epoch += 1
                    self._written = self._synced
                raise JournalWriteError(f"journal fsync failed: {err.strerror or err}") from err
            with self._lock:
                self._synced, self._durable_end = target, end
                if self._end >= self.segment_bytes and self._end == self._durable_end:
                    self._rotate()

    def _truncate_to(self, size: int) -> None:
        """Cut the active segment back to ``size`` (a failed write leaves no torn record)."""
        try:
            os.ftruncate(self._fd, size)
            self._end = size
        except OSError as err:  # recovery's checksums still skip the torn record
            log.error("journal: cannot truncate after a failed write: %s", err)
            self._end = -1

    def _restore_end(self) -> None:
        if self._end < 0:  # an earlier truncation failed: retry before writing behind it
            os.ftruncate(self._fd, self._durable_end)
            self._end = self._durable_end

    def _rotate(self) -> None:
        os.close(self._fd)
        self._open_active(self._active.number + 1)

    # -- retiring ----------------------------------------------------------------------------

    def mark_loaded(self, batch_ids: set[str]) -> list[int]:
        """Note batches committed to the warehouse; retire closed segments now fully loaded.

        Returns:
            The numbers of the segments retired.
        """
        retired = []
        with self._lock:
            for segment in list(self._segments.values()):
                segment.unloaded -= batch_ids
                if not segment.unloaded and segment is not self._active:
                    retired.append(segment)
        for segment in retired:
            self._retire(segment)
        return [s.number for s in retired]

    def _retire(self, segment: _Segment) -> None:
        try:
            with open(self.folder / _INDEX, "ab") as index:
                index.write(b"".join(frame(s) for s in segment.summaries))
                index.flush()
                os.fsync(index.fileno())
            segment.path.unlink()
            _fsync_dir(self.folder)
            self._note_oldest(segment.summaries)
            if self._index_oldest is not None and self._index_oldest < self._horizon():
                self._compact_index()
        except OSError as err:  # retried at the next load; the segment stays readable
            log.error("journal: cannot retire segment %s: %s", segment.path, err)
            return
        finally:
            with self._lock:
                if not segment.path.exists():
                    self._segments.pop(segment.number, None)

    def _horizon(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) - self.dedup_window

    def _note_oldest(self, summaries: list[dict[str, Any]]) -> None:
        times = [t for t in map(received_at, summaries) if t is not None]
        if times and (self._index_oldest is None or min(times) < self._index_oldest):
            self._index_oldest = min(times)

    def _compact_index(self) -> list[dict[str, Any]]:
        """The summaries of ``batches.idx`` still in the dedup window; the file is rewritten
        without the others (atomically: a new file, fsynced, renamed over the old one).

        A summary without a time (written by an earlier version) is stamped with the time of
        the compaction, so it expires one window later.
        """
        index = self.folder / _INDEX
        if not index.exists():
            return []
        now = dt.datetime.now(dt.UTC)
        kept, dropped, stamped = [], 0, False
        for _, summary in self._scan(index, cut_tail=True):
            moment = received_at(summary)
            if moment is None:
                summary = {**summary, "received_at": now.isoformat()}
                stamped = True
            elif moment < now - self.dedup_window:
                dropped += 1
                continue
            kept.append(summary)
        if dropped or stamped:
            fresh = index.with_suffix(".tmp")
            with open(fresh, "wb") as handle:
                handle.write(b"".join(frame(s) for s in kept))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(fresh, index)
            _fsync_dir(self.folder)
            log.info("journal: forgot %d batch ids older than %s", dropped, self.dedup_window)
        self._index_oldest = None
        self._note_oldest(kept)
        return kept

    def read(self, position: Position) -> dict[str, Any]:
        """The full record at ``position`` (with its rows)."""
        with self._lock:
            path = self._segments[position.segment].path
        with open(path, "rb") as handle:
            handle.seek(position.offset)
            record = unframe(handle.read(position.length))
        if record is None:
            raise JournalError(f"journal record at {path}:{position.offset} is damaged")
        return record

    def disk_bytes(self) -> int:
        """Bytes of segments still on disk (what is not yet retired)."""
        with self._lock:
            paths = [s.path for s in self._segments.values()]
        return sum(p.stat().st_size for p in paths if p.exists())

    def close(self) -> None:
        """Close the active segment."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
