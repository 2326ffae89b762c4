"""The SDK's exposure logger: once per unit x experiment, batched, flushed in the background.

``log()`` is cheap (a set lookup, and an append for a new exposure). A daemon thread sends a
batch when ``batch_size`` events are waiting or every ``flush_interval`` seconds; ``close()``
(also registered with :mod:`atexit`) sends what is left. A failed send is retried with the same
batch id and exponential back-off; after ``max_attempts`` the batch is counted in
``stats["failed"]`` and reported with :mod:`logging`, never dropped silently.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field

from assay.exposure.events import Exposure
from assay.exposure.sinks import Sink, SinkRejected, new_batch_id

log = logging.getLogger("assay.exposure")


@dataclass
class _Pending:
    batch_id: str
    events: list[Exposure]
    attempts: int = 0


@dataclass
class LoggerStats:
    """Counters: exposures logged, duplicates skipped, events sent, failed and rejected."""

    logged: int = 0
    duplicates: int = 0
    sent: int = 0
    failed: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)


class ExposureLogger:
    """Logs each unit's first exposure to each experiment to a :class:`Sink`.

    Example:
        >>> from assay.exposure import ListSink
        >>> sink = ListSink()
        >>> with ExposureLogger(sink) as exposures:
        ...     exposures.log("checkout_v2", "treatment", "user-1")
        ...     exposures.log("checkout_v2", "treatment", "user-1")  # deduplicated
        True
        False
        >>> len(sink.events)
        1
    """

    def __init__(self, sink: Sink, *, batch_size: int = 500, flush_interval: float = 1.0,
                 max_attempts: int = 5, backoff: float = 0.2) -> None:
        self.sink = sink
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.stats = LoggerStats()
        self._seen: dict[str, set[str]] = {}
        self._buffer: list[Exposure] = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="assay-exposures", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def log(self, experiment_id: str, variant: str, unit_id: str,
            timestamp: dt.datetime | None = None) -> bool:
        """Record an exposure unless this unit was already logged for this experiment.

        Returns:
            True if the exposure is new (queued), False if it was a duplicate.
        """
        seen = self._seen.get(experiment_id)
        if seen is not None and unit_id in seen:
            self.stats.duplicates += 1
            return False
        with self._lock:
            seen = self._seen.setdefault(experiment_id, set())
            if unit_id in seen:
                self.stats.duplicates += 1
                return False
            seen.add(unit_id)
            self._buffer.append(Exposure(experiment_id, variant, unit_id,
                                         timestamp or dt.datetime.now(dt.UTC)))
            self.stats.logged += 1
            full = len(self._buffer) >= self.batch_size
        if full:
            self._wake.set()
        return True

    def flush(self) -> None:
        """Send everything buffered now (blocks until sent or given up)."""
        while True:
            with self._lock:
                if not self._buffer:
                    return
                events, self._buffer = self._buffer[:self.batch_size], \
                    self._buffer[self.batch_size:]
            self._deliver(_Pending(new_batch_id(), events))

    def close(self) -> None:
        """Flush and stop the background thread (idempotent; runs at interpreter exit)."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=max(5.0, self.flush_interval * 2))
        self.flush()
        atexit.unregister(self.close)

    def __enter__(self) -> ExposureLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception as err:  # the thread must survive any sink bug
                log.exception("exposure flush failed")
                self.stats.errors.append(repr(err))

    def _deliver(self, pending: _Pending) -> None:
        with self._send_lock:
            while True:
                pending.attempts += 1
                try:
                    self.sink.send(pending.batch_id, pending.events)
                    self.stats.sent += len(pending.events)
                    return
                except SinkRejected as err:
                    self.stats.rejected += len(pending.events)
                    self.stats.errors.append(str(err))
                    log.error("exposure batch %s rejected: %s", pending.batch_id, err)
                    return
                except Exception as err:
                    if pending.attempts >= self.max_attempts:
                        self.stats.failed += len(pending.events)
                        self.stats.errors.append(repr(err))
                        log.error("exposure batch %s (%d events) failed after %d attempts: %s",
                                  pending.batch_id, len(pending.events), pending.attempts, err)
                        return
                    time.sleep(self.backoff * 2 ** (pending.attempts - 1))
