"""Live KPIs: a real Prometheus endpoint on 127.0.0.1, read back and parsed."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from assay.pipelines import MemoryRunSink, PipelineExperiment, PipelineRecorder
from assay.pipelines.prometheus import PrometheusObserver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_endpoint_counts_runs_errors_and_latency_per_variant(
        setup: PipelineExperiment) -> None:
    observer = PrometheusObserver()
    recorder = PipelineRecorder([setup], MemoryRunSink(), observers=[observer])
    expected: dict[tuple[str, str], int] = {}
    for i in range(40):
        with recorder.run("ingest_orders", unit=f"b{i}") as run:
            run.rows_out = 100
            if i % 8 == 0:
                run.fail("bad batch")
        key = (str(run.variant), "failed" if i % 8 == 0 else "success")
        expected[key] = expected.get(key, 0) + 1
    server, thread = observer.serve(_free_port())
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    for (variant, status), n in expected.items():
        key = ("assay_pipeline_runs_total", (("pipeline", "ingest_orders"), ("status", status),
                                              ("variant", variant)))
        assert samples[key] == n
    for variant in {v for v, _ in expected}:
        labels = (("pipeline", "ingest_orders"), ("variant", variant))
        runs = sum(n for (v, _), n in expected.items() if v == variant)
        assert samples[("assay_pipeline_run_duration_seconds_count", labels)] == runs
        assert samples[("assay_pipeline_rows_written_total", labels)] == pytest.approx(100 * runs)
        failed = expected.get((variant, "failed"), 0)
        assert samples.get(("assay_pipeline_errors_total", labels), 0) == failed
