"""Live KPIs per pipeline x variant for Prometheus (and so Grafana or Datadog) while a test runs.

:class:`PrometheusObserver` is a :class:`~assay.pipelines.recorder.RunObserver`: give it to the
recorder and every finished run updates

* ``assay_pipeline_runs_total{pipeline, variant, status}`` (counter),
* ``assay_pipeline_errors_total{pipeline, variant}`` (counter of failed runs),
* ``assay_pipeline_run_duration_seconds{pipeline, variant}`` (histogram: latency percentiles
  in PromQL with ``histogram_quantile``),
* ``assay_pipeline_rows_written_total{pipeline, variant}`` (counter: throughput with ``rate``),
* ``assay_pipeline_freshness_lag_seconds{pipeline, variant}`` (gauge: the last run's lag).

Expose them with :meth:`PrometheusObserver.serve` (a small HTTP server on 127.0.0.1 by
default) or mount :meth:`PrometheusObserver.asgi_app` on an existing ASGI service. These are
for watching; the experiment's numbers come from ``pipeline_runs`` in the warehouse.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_asgi_app
from prometheus_client.exposition import start_http_server

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
                    3600)
_LABELS = ("pipeline", "variant")


class PrometheusObserver:
    """Prometheus metrics of finished runs, in a registry of their own.

    Args:
        registry: Where the metrics are registered (default: a new registry, so two observers
            or a test never collide with the process-wide default).
        buckets: Histogram buckets of run durations, in seconds.
    """

    def __init__(self, registry: CollectorRegistry | None = None, *,
                 buckets: Sequence[float] = DURATION_BUCKETS) -> None:
        self.registry = registry or CollectorRegistry()
        self.runs = Counter("assay_pipeline_runs", "Finished pipeline runs.",
                            [*_LABELS, "status"], registry=self.registry)
        self.errors = Counter("assay_pipeline_errors", "Failed pipeline runs.", _LABELS,
                              registry=self.registry)
        self.duration = Histogram("assay_pipeline_run_duration_seconds",
                                  "Duration of finished runs.", _LABELS,
                                  buckets=tuple(buckets), registry=self.registry)
        self.rows = Counter("assay_pipeline_rows_written", "Rows written by finished runs.",
                            _LABELS, registry=self.registry)
        self.freshness = Gauge("assay_pipeline_freshness_lag_seconds",
                               "Lag of the last run's output watermark behind its end.",
                               _LABELS, registry=self.registry)

    def observe(self, row: Mapping[str, Any]) -> None:
        """Count one finished run (an ``end`` row of ``pipeline_runs``)."""
        labels = (str(row["pipeline"]), str(row.get("variant") or "none"))
        self.runs.labels(*labels, str(row["status"])).inc()
        if row["status"] == "failed":
            self.errors.labels(*labels).inc()
        if row.get("duration_s") is not None:
            self.duration.labels(*labels).observe(float(row["duration_s"]))
        if row.get("rows_out") is not None:
            self.rows.labels(*labels).inc(float(row["rows_out"]))
        if row.get("freshness_lag_s") is not None:
            self.freshness.labels(*labels).set(float(row["freshness_lag_s"]))

    def asgi_app(self) -> Any:
        """An ASGI app serving ``/metrics`` of this registry (to mount on a FastAPI app)."""
        return make_asgi_app(self.registry)

    def serve(self, port: int, addr: str = "127.0.0.1") -> tuple[WSGIServer, threading.Thread]:
        """Serve ``/metrics`` on ``addr:port`` in a daemon thread; ``server.shutdown()`` stops
        it."""
        return start_http_server(port, addr=addr, registry=self.registry)
