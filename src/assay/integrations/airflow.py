"""Airflow: record each task instance as a pipeline run, and hand the task its configuration.

Nothing here imports Airflow at module import time (assay's own environment has no Airflow);
the task-context helpers import it when a task runs inside Airflow.

Two ways in:

* :func:`pipeline_task` wraps a task's callable: it assigns the configuration by the hash of
  the DAG run (or a switchback block), passes it to the callable as ``variant=`` together with
  the :class:`~assay.pipelines.recorder.Run` as ``assay_run=``, and records the attempt (start,
  end, status, error, ``try_number`` as the attempt)::

      @task
      @pipeline_task(make_recorder, "ingest_orders")
      def ingest(variant: str, assay_run: Run) -> None:
          ...
          assay_run.rows_out = written

* :func:`run_callbacks` records any existing task without touching its code, from the task
  instance Airflow passes to ``on_success_callback`` / ``on_failure_callback`` (its
  ``start_date``, ``try_number``, ``run_id``; the error from the context's ``exception``).
  The task can learn its configuration with ``recorder.variant(pipeline, run_id)``: the hash
  is deterministic.

The recorder comes from a factory (called in the worker process, which owns its journal), so a
DAG file stays cheap to parse.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from assay.pipelines.recorder import PipelineRecorder

RecorderFactory = Callable[[], PipelineRecorder]
INJECTED = ("variant", "assay_run")


def current_context() -> Mapping[str, Any]:
    """The running task's Airflow context (Airflow 3's task SDK, or Airflow 2's location)."""
    try:
        from airflow.sdk import get_current_context
    except ImportError:  # Airflow 2
        from airflow.operators.python import get_current_context
    context: Mapping[str, Any] = get_current_context()
    return context


def task_unit(context: Mapping[str, Any]) -> str:
    """The randomisation unit of a task instance: its DAG's id and run id."""
    ti = context.get("ti") or context["task_instance"]
    return f"{ti.dag_id}/{ti.run_id}"


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def pipeline_task(recorder: RecorderFactory, pipeline: str) -> Callable[[Callable[..., Any]],
                                                                         Callable[..., Any]]:
    """Decorate a task callable so that each attempt is a recorded run of ``pipeline``."""
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def task(*args: Any, **kwargs: Any) -> Any:
            context = current_context()
            ti = context.get("ti") or context["task_instance"]
            with recorder() as rec, rec.run(pipeline, unit=task_unit(context),
                                            attempt=int(ti.try_number or 1)) as run:
                return fn(*args, variant=run.variant, assay_run=run, **kwargs)

        # Airflow binds a task's arguments to its signature: hide the two that assay supplies
        signature = inspect.signature(fn)
        task.__signature__ = signature.replace(parameters=[  # type: ignore[attr-defined]
            p for name, p in signature.parameters.items() if name not in INJECTED])
        return task
    return wrap


def record_task_instance(recorder: PipelineRecorder, pipeline: str,
                         context: Mapping[str, Any]) -> dict[str, Any]:
    """Record a finished task instance (from a callback's context) as one run; its end row."""
    ti = context.get("ti") or context["task_instance"]
    started = _aware(getattr(ti, "start_date", None)) or dt.datetime.now(dt.UTC)
    ended = _aware(getattr(ti, "end_date", None)) or dt.datetime.now(dt.UTC)
    run = recorder.run(pipeline, unit=task_unit(context), attempt=int(ti.try_number or 1),
                       at=started)
    error = context.get("exception")
    if error is not None or str(getattr(ti, "state", "")).endswith("failed"):
        run.fail(f"{type(error).__name__}: {error}"[:1000] if error is not None
                 else "task failed")
    return run.end(ended=ended)


def run_callbacks(recorder: RecorderFactory, pipeline: str
                  ) -> dict[str, Callable[[Mapping[str, Any]], None]]:
    """``on_success_callback`` and ``on_failure_callback`` that record each task instance.

    Example (in a DAG file)::

        PythonOperator(task_id="load", python_callable=load,
                       **run_callbacks(make_recorder, "load_orders"))
    """
    def callback(context: Mapping[str, Any]) -> None:
        with recorder() as rec:
            record_task_instance(rec, pipeline, context)

    return {"on_success_callback": callback, "on_failure_callback": callback}
