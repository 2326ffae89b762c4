"""The instrumentation API: ``with recorder.run("ingest_orders", unit=batch_id) as run:``.

Entering a run assigns its configuration (the salted hash of its unit, or its switchback
block), logs the unit's exposure once, and journals a ``start`` row, so a run that never ends
is counted. Leaving it journals the ``end`` row (duration on a monotonic clock, rows, bytes,
status, error, output watermark) and any custom KPI. An exception inside the block marks the
run ``failed`` and is re-raised: the pipeline's own error handling is unchanged.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol

from assay.assign.engine import CompiledExperiment
from assay.errors import AssayError
from assay.pipelines.designs import PipelineExperiment
from assay.pipelines.records import end_figures, micros
from assay.pipelines.sinks import RunSink
from assay.spec.errors import unknown_name


class RunObserver(Protocol):
    """Sees every finished run's ``end`` row (live metrics, e.g. Prometheus)."""

    def observe(self, row: Mapping[str, Any]) -> None:
        """Called once per finished run."""
        ...


class Run:
    """One run in progress. Set the figures you know; the rest stay NULL.

    Attributes:
        variant: The configuration to use (None: the unit is not in the experiment; use the
            default configuration).
        rows_in: Rows read.
        rows_out: Rows written.
        bytes: Bytes written.
        watermark: Max event time written (freshness is its lag behind the run's end).
    """

    def __init__(self, recorder: PipelineRecorder, base: dict[str, Any]) -> None:
        self._recorder = recorder
        self._base = base
        self.variant: str | None = base["variant"]
        self.rows_in: int | None = None
        self.rows_out: int | None = None
        self.bytes: int | None = None
        self.watermark: dt.datetime | None = None
        self.error: str | None = None
        self._kpis: dict[str, float] = {}
        self._clock = time.monotonic()
        self._ended = False

    @property
    def run_id(self) -> str:
        """This run's id."""
        return str(self._base["run_id"])

    @property
    def analysed(self) -> bool:
        """False for a switchback run in its block's washout (recorded, not analysed)."""
        return bool(self._base["analysed"])

    def record(self, name: str, value: float) -> None:
        """Record a custom KPI (``cpu_s``, ``cost_usd`` ...) for this run."""
        if not isinstance(name, str) or not name:
            raise AssayError("a KPI needs a name")
        self._kpis[name] = float(value)

    def fail(self, error: str) -> None:
        """Mark the run failed without raising (a handled error)."""
        self.error = error

    def end(self, *, ended: dt.datetime | None = None) -> dict[str, Any]:
        """Journal the ``end`` row now (or with the given end time); once only.

        Leaving the ``with`` block calls this; call it yourself when the run's times come from
        elsewhere (an orchestrator's task instance), then the duration is ``ended - start``.
        """
        if self._ended:
            raise AssayError(f"run {self.run_id} has already ended")
        self._ended = True
        return self._recorder.finish(self, self._base, self._kpis,
                                     time.monotonic() - self._clock, ended)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        if err is not None and self.error is None:
            self.error = f"{type(err).__name__}: {err}"[:1000]
        if not self._ended:
            self.end()


class PipelineRecorder:
    """Records the runs of pipelines under experiment.

    Args:
        experiments: The pipeline experiments (one per pipeline name).
        sink: Where records go (:class:`~assay.pipelines.sinks.JournalRunSink` for the
            warehouse, :class:`~assay.pipelines.sinks.MemoryRunSink` for tests).
        observers: Also told about each finished run (live metrics).

    Example:
        >>> from assay.pipelines import MemoryRunSink, PipelineExperiment, PipelineRecorder
        >>> from assay.spec.models import ExperimentSpec
        >>> spec = ExperimentSpec(id="orders_format", variants=[
        ...     {"name": "json", "weight": 1}, {"name": "parquet", "weight": 1}])
        >>> recorder = PipelineRecorder([PipelineExperiment("ingest_orders", spec)],
        ...                             MemoryRunSink())
        >>> with recorder.run("ingest_orders", unit="batch-17") as run:
        ...     run.rows_out = 1200
        >>> run.variant == recorder.variant("ingest_orders", "batch-17")
        True
    """

    def __init__(self, experiments: Iterable[PipelineExperiment], sink: RunSink, *,
                 observers: Iterable[RunObserver] = ()) -> None:
        self.experiments = {e.pipeline: e for e in experiments}
        self.sink = sink
        self.observers = list(observers)
        self._compiled: dict[str, CompiledExperiment] = {
            name: e.compiled() for name, e in self.experiments.items()}
        self._exposed: set[tuple[str, str]] = set()

    def _experiment(self, pipeline: str) -> PipelineExperiment:
        if pipeline not in self.experiments:
            raise unknown_name("pipelines", "pipeline", pipeline, list(self.experiments))
        return self.experiments[pipeline]

    def variant(self, pipeline: str, unit: str | int,
                at: dt.datetime | None = None) -> str | None:
        """The configuration a run of ``unit`` starting ``at`` (default now) gets."""
        moment = at or dt.datetime.now(dt.UTC)
        analysis_unit, _ = self._experiment(pipeline).design.unit_of(pipeline, str(unit), moment)
        return self._compiled[pipeline].variant(analysis_unit)

    def run(self, pipeline: str, unit: str | int, *, attempt: int = 1,
            at: dt.datetime | None = None, run_id: str | None = None) -> Run:
        """Start a run: assign, expose, journal its ``start`` row; use as a context manager.

        Args:
            pipeline: The pipeline's name (one of the recorder's experiments).
            unit: The run's batch, partition or run id (the hash's input in a per-run design).
            attempt: 1 for the first try; retries keep the unit and so the configuration.
            at: The start (default now, UTC).
            run_id: An id for this attempt (default a random one).
        """
        if attempt < 1:
            raise AssayError(f"attempt numbers start at 1, got {attempt}")
        setup = self._experiment(pipeline)
        started = at or dt.datetime.now(dt.UTC)
        analysis_unit, analysed = setup.design.unit_of(pipeline, str(unit), started)
        variant = self._compiled[pipeline].variant(analysis_unit)
        experiment_id = setup.experiment.id if variant is not None else None
        base = {"run_id": run_id or uuid.uuid4().hex, "pipeline": pipeline,
                "experiment_id": experiment_id, "variant": variant, "unit_id": analysis_unit,
                "batch_id": str(unit), "attempt": attempt, "started_at": micros(started),
                "analysed": analysed}
        if variant is not None and (setup.experiment.id, analysis_unit) not in self._exposed:
            self.sink.write("exposures", [{"experiment_id": setup.experiment.id,
                                           "variant": variant, "unit_id": analysis_unit,
                                           "timestamp": base["started_at"]}])
            self._exposed.add((setup.experiment.id, analysis_unit))
        self.sink.write("pipeline_runs", [{**base, "phase": "start", "status": "running"}])
        return Run(self, base)

    def finish(self, run: Run, base: dict[str, Any], kpis: Mapping[str, float],
               elapsed: float, ended: dt.datetime | None = None) -> dict[str, Any]:
        """Journal a run's ``end`` row and KPIs (called when its block exits)."""
        end = micros(ended or dt.datetime.now(dt.UTC))
        assert end is not None
        figures = end_figures(base["started_at"], end, elapsed if ended is None else None,
                              rows_in=run.rows_in, rows_out=run.rows_out, nbytes=run.bytes,
                              watermark=micros(run.watermark))
        row = {**base, **figures, "phase": "end", "ended_at": end,
               "status": "failed" if run.error else "success", "error": run.error}
        self.sink.write("pipeline_runs", [row])
        if kpis:
            self.sink.write("pipeline_kpis", [
                {k: base[k] for k in ("run_id", "pipeline", "experiment_id", "variant",
                                      "unit_id", "started_at", "analysed")}
                | {"name": name, "value": value} for name, value in kpis.items()])
        for observer in self.observers:
            observer.observe(row)
        return row

    def close(self) -> None:
        """Close the sink (pending records are loaded first)."""
        self.sink.close()

    def __enter__(self) -> PipelineRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default: PipelineRecorder | None = None


def configure(recorder: PipelineRecorder | None) -> None:
    """Make ``recorder`` the one :func:`run` uses (None to unset)."""
    global _default
    _default = recorder


def run(pipeline: str, unit: str | int, **options: Any) -> Run:
    """``with pipelines.run("ingest_orders", unit=batch_id) as run:`` on the configured recorder.

    Raises:
        AssayError: No recorder is configured (call :func:`configure` first).
    """
    if _default is None:
        raise AssayError("no pipeline recorder is configured: call "
                         "assay.pipelines.configure(PipelineRecorder(...)) first")
    return _default.run(pipeline, unit, **options)
