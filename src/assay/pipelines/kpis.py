"""Pipeline KPIs as ordinary assay metrics over ``pipeline_runs`` (DESIGN decision 14).

Every KPI is a metric spec the usual compiler turns into SQL and the usual engine analyses. The
analysis unit is whatever the design randomised (a run or batch id, or a switchback block), so
per-run KPIs are *ratio* metrics of per-unit sums (delta method): with one run per unit they are
plain means; with blocks they are cluster-robust, block sums being the clusters. Latency
percentiles are the quantile metric kind over every run (``quantile_of: event``) with units as
clusters (Deng, Knoblich & Lu 2018, section 4.2).

Built in (``higher_is_better`` set so that "better" and guardrails read the right way):

==================  =================================================  ===============
KPI                 definition                                         better
==================  =================================================  ===============
``throughput``      rows written / seconds, successful runs            higher
``latency_p50``     median duration of successful runs (quantile)      lower
``latency_p95``     p95 of the same (quantile kind, units as clusters) lower
``latency_p99``     p99 of the same                                    lower
``freshness_p95``   p95 of the freshness lag                           lower
``mean_duration``   seconds per successful run                         lower
``error_rate``      failed runs / finished runs                        lower
``retry_rate``      runs with attempt > 1 / finished runs              lower
``freshness_lag``   seconds from output watermark to run end           lower
``bytes_per_run``   bytes written per finished run                     lower
``unfinished_rate`` started runs with no end record / started runs     lower
==================  =================================================  ===============

Custom KPIs recorded with ``run.record(name, value)`` become ``<name>_per_run`` (lower is
better unless said otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from sqlglot import exp

from assay.errors import AssayError
from assay.pipelines.records import KPIS_TABLE, RUNS_TABLE
from assay.spec.models import IDENTIFIER, MetricSpec, Source

RUN_SOURCE = "pipeline_runs"
KPI_SOURCE = "pipeline_run_kpis"
FINISHED = "phase = 'end' AND analysed"
SUCCEEDED = FINISHED + " AND status = 'success'"
BUILT_IN = ("throughput", "latency_p50", "latency_p95", "latency_p99", "mean_duration",
            "error_rate", "unfinished_rate", "retry_rate", "freshness_lag", "freshness_p95",
            "bytes_per_run")


def sources(runs_table: str = RUNS_TABLE, kpis_table: str = KPIS_TABLE) -> dict[str, Source]:
    """The project sources the KPIs read."""
    return {RUN_SOURCE: Source(table=runs_table, unit="unit_id", timestamp="started_at"),
            KPI_SOURCE: Source(table=kpis_table, unit="unit_id", timestamp="started_at")}


def _sum(name: str, value: str | None, filter: str, source: str = RUN_SOURCE) -> MetricSpec:
    aggregation = "count" if value is None else "sum"
    return MetricSpec.model_validate({"name": name, "source": source, "value": value,
                                      "filter": filter, "aggregation": aggregation})


def _ratio(name: str, num: str, den: str, description: str, *,
           higher: bool = False) -> MetricSpec:
    return MetricSpec.model_validate({"name": name, "kind": "ratio", "numerator": num,
                                      "denominator": den, "description": description,
                                      "higher_is_better": higher})


def _quantile(name: str, q: float, value: str, filter: str, description: str) -> MetricSpec:
    return MetricSpec.model_validate({"name": name, "kind": "quantile", "quantile": q,
                                      "quantile_of": "event", "source": RUN_SOURCE,
                                      "value": value, "filter": filter,
                                      "description": description, "higher_is_better": False})


def kpi_metrics(custom: Iterable[str] = (), *,
                higher_is_better: Mapping[str, bool] | None = None) -> dict[str, MetricSpec]:
    """Every built-in KPI (and their per-unit sums), plus ``<name>_per_run`` per custom KPI."""
    timed = SUCCEEDED + " AND duration_s IS NOT NULL"
    lagged = FINISHED + " AND freshness_lag_s IS NOT NULL"
    specs = [
        _sum("finished_runs", None, FINISHED),
        _sum("succeeded_runs", None, timed),
        _sum("success_seconds", "duration_s", timed),
        _sum("rows_written", "rows_out", timed + " AND rows_out IS NOT NULL"),
        _sum("failed_runs", None, FINISHED + " AND status = 'failed'"),
        _sum("retried_runs", None, FINISHED + " AND attempt > 1"),
        _sum("lagged_runs", None, lagged),
        _sum("lag_seconds", "freshness_lag_s", lagged),
        _sum("bytes_written", "bytes", FINISHED + " AND bytes IS NOT NULL"),
        _sum("started_runs", None, "phase = 'start' AND analysed"),
        # +1 per start, -1 per end: what is left is the unit's runs that never ended
        _sum("open_runs", "CASE WHEN phase = 'start' THEN 1 ELSE -1 END", "analysed"),
        _ratio("throughput", "rows_written", "success_seconds",
               "rows written per second of successful runs", higher=True),
        _ratio("mean_duration", "success_seconds", "succeeded_runs",
               "seconds per successful run"),
        _ratio("error_rate", "failed_runs", "finished_runs", "share of finished runs that failed"),
        _ratio("retry_rate", "retried_runs", "finished_runs", "share of runs that were retries"),
        _ratio("freshness_lag", "lag_seconds", "lagged_runs",
               "seconds from the output watermark to the run's end"),
        _ratio("bytes_per_run", "bytes_written", "finished_runs", "bytes written per run"),
        _ratio("unfinished_rate", "open_runs", "started_runs",
               "share of started runs with no end record (crashed or still running)"),
        *(_quantile(f"latency_p{round(100 * q)}", q, "duration_s", timed,
                    f"p{round(100 * q)} of successful runs' durations (seconds)")
          for q in (0.5, 0.95, 0.99)),
        _quantile("freshness_p95", 0.95, "freshness_lag_s", lagged,
                  "p95 of the lag from output watermark to run end (seconds)"),
    ]
    better = dict(higher_is_better or {})
    for name in custom:
        if not re.match(IDENTIFIER, name):
            raise AssayError(f"custom KPI name {name!r} must be an identifier (letters, digits, _)")
        filter = exp.and_(exp.column("analysed"),
                          exp.column("name").eq(exp.Literal.string(name))).sql()
        specs.append(_sum(f"{name}_total", "value", filter, KPI_SOURCE))
        specs.append(_ratio(f"{name}_per_run", f"{name}_total", "finished_runs",
                            f"custom KPI {name} per finished run",
                            higher=better.get(name, False)))
    return {s.name: s for s in specs}
