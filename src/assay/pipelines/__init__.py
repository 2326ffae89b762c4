"""Pipeline experiments: A/B test data-pipeline configurations like any other experiment.

A run is a unit (or a switchback block is), KPIs are metrics over ``pipeline_runs``, gates and
anomaly detectors are checks (DESIGN decision 14). See ``docs/pipelines.md``.

* :mod:`.recorder`: ``with recorder.run("ingest_orders", unit=batch_id) as run:``
* :mod:`.designs`: per-run hashing and switchback time blocks
* :mod:`.sinks`: the durable path (journal -> loader -> warehouse) or memory
* :mod:`.kpis`, :mod:`.analysis`: KPI metric specs and the analysis with its checks
"""

from __future__ import annotations

from assay.pipelines.analysis import analyze_pipeline, pipeline_decision, pipeline_project
from assay.pipelines.designs import PerRun, PipelineExperiment, Switchback
from assay.pipelines.recorder import PipelineRecorder, Run, configure, run
from assay.pipelines.sinks import JournalRunSink, MemoryRunSink

__all__ = [
    "JournalRunSink",
    "MemoryRunSink",
    "PerRun",
    "PipelineExperiment",
    "PipelineRecorder",
    "Run",
    "Switchback",
    "analyze_pipeline",
    "configure",
    "pipeline_decision",
    "pipeline_project",
    "run",
]
