"""A DAG for the Airflow integration test (run by `airflow dags test` in its own virtualenv).

Paths come from the environment the test sets: ASSAY_TEST_JOURNAL, ASSAY_TEST_WAREHOUSE.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import dag, task

from assay.integrations.airflow import pipeline_task, run_callbacks
from assay.pipelines import JournalRunSink, PipelineExperiment, PipelineRecorder
from assay.spec.models import ExperimentSpec
from assay.warehouse import connect

SPEC = ExperimentSpec.model_validate({"id": "orders_format", "variants": [
    {"name": "json", "weight": 1, "control": True}, {"name": "parquet", "weight": 1}]})


def make_recorder() -> PipelineRecorder:
    url = "duckdb:///" + os.environ["ASSAY_TEST_WAREHOUSE"]
    return PipelineRecorder(
        [PipelineExperiment("ingest_orders", SPEC), PipelineExperiment("load_orders", SPEC)],
        JournalRunSink(os.environ["ASSAY_TEST_JOURNAL"], lambda: connect(url)))


def load() -> None:
    print("loading")


@dag(dag_id="assay_pipeline", schedule=None, start_date=dt.datetime(2026, 11, 1),
     catchup=False)
def assay_pipeline() -> None:
    @task
    @pipeline_task(make_recorder, "ingest_orders")
    def ingest(variant: str, assay_run: object) -> str:
        assay_run.rows_out = 1234 if variant == "parquet" else 1000  # type: ignore[attr-defined]
        return variant

    loaded = PythonOperator(task_id="load", python_callable=load,
                            **run_callbacks(make_recorder, "load_orders"))
    ingest() >> loaded


assay_pipeline()
