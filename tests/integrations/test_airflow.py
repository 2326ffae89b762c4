"""The Airflow integration against a real Airflow: `airflow dags test` with SQLite metadata.

Airflow pins many libraries, so it lives in its own virtualenv (`make airflow-venv`, about a
minute); this test drives it as a subprocess and reads what the DAG recorded from DuckDB.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.engines import unavailable

from assay.assign.engine import CompiledExperiment
from assay.spec.models import ExperimentSpec
from assay.warehouse import connect

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = ROOT / ".venv-airflow" / "bin" / "airflow"


def test_the_module_imports_without_airflow() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys, assay.integrations.airflow; "
                           "print('airflow' in sys.modules)"], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.slow
def test_a_real_dag_run_records_each_task_instance(tmp_path: Path) -> None:
    if not AIRFLOW.exists():
        unavailable("Airflow's virtualenv is missing: run `make airflow-venv`")
    home = tmp_path / "airflow"
    dags = home / "dags"
    dags.mkdir(parents=True)
    shutil.copy(Path(__file__).with_name("airflow_dag.py"), dags / "assay_dag.py")
    warehouse = tmp_path / "runs.duckdb"
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "ASSAY_TEST_JOURNAL": str(tmp_path / "j"),
           "ASSAY_TEST_WAREHOUSE": str(warehouse), "PYTHONPATH": str(ROOT / "src")}
    for args in (["db", "migrate"], ["dags", "test", "assay_pipeline", "2026-11-02"]):
        done = subprocess.run([str(AIRFLOW), *args], env=env, capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wh = connect(f"duckdb:///{warehouse}")
    try:
        rows = wh.execute("SELECT pipeline, variant, unit_id, attempt, status, rows_out, "
                          "duration_s FROM pipeline_runs WHERE phase = 'end' "
                          "ORDER BY pipeline").to_pylist()
        exposures = wh.execute("SELECT COUNT(*) AS n FROM exposures").to_pylist()[0]["n"]
    finally:
        wh.close()
    assert [r["pipeline"] for r in rows] == ["ingest_orders", "load_orders"]
    spec = ExperimentSpec.model_validate({"id": "orders_format", "variants": [
        {"name": "json", "weight": 1, "control": True}, {"name": "parquet", "weight": 1}]})
    compiled = CompiledExperiment(spec)
    for row in rows:
        assert row["unit_id"].startswith("assay_pipeline/")
        assert row["variant"] == compiled.variant(row["unit_id"])
        assert row["status"] == "success" and row["attempt"] == 1
        assert row["duration_s"] is not None and row["duration_s"] >= 0
    ingest = rows[0]
    assert ingest["rows_out"] == (1234 if ingest["variant"] == "parquet" else 1000)
    assert exposures == 2  # one per recorder (one per task); an analysis takes the first
