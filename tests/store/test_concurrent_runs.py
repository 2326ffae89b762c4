"""Two `assay run` processes at once on one warehouse: one analysis stored, none half-written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
from sqlglot import exp
from tests.store.cli import count, set_key

from assay.store.migrations import LATEST_VERSION
from assay.warehouse.base import Warehouse

EXPERIMENTS = ["checkout_redesign", "homepage_aa"]
_MAIN = "from assay.cli import main; main()"


def _two_runs(project: Path) -> list[subprocess.CompletedProcess[str]]:
    command = [sys.executable, "-c", _MAIN, "run", *EXPERIMENTS, "-p", str(project)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    return [subprocess.CompletedProcess(command, p.returncode, o, e)
            for p, (o, e) in zip(procs, outs, strict=True)]


def _assert_stored_once(runs: list[subprocess.CompletedProcess[str]], analyses: int,
                        results: int, checks: int) -> None:
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
    lines = [line for run in runs for line in run.stdout.splitlines()]
    assert len(lines) == 4
    assert sum(" new " in line for line in lines) == 2  # each experiment stored by one process
    assert sum(" same " in line for line in lines) == 2
    assert analyses == len(EXPERIMENTS)
    assert results > 0 and checks > 0


def test_two_runs_on_one_duckdb_file(demo: Path) -> None:
    # the second waits for the first to let go of the file; on a loaded machine the first
    # can hold it longer than the 10 s default, which would fail the run, not the test's claim
    set_key(demo / "assay_project.yml", "warehouse", "duckdb:///warehouse.duckdb?lock_wait=300")
    runs = _two_runs(demo)
    _assert_stored_once(runs, count(demo, "analyses"), count(demo, "results"),
                        count(demo, "checks"))
    # Every child row belongs to a committed analysis: nothing half-written.
    with duckdb.connect(str(demo / "warehouse.duckdb"), read_only=True) as con:
        orphans = con.execute(
            'SELECT COUNT(*) FROM "assay_results" r LEFT JOIN "assay_analyses" a '
            'ON a."analysis_id" = r."analysis_id" WHERE a."analysis_id" IS NULL').fetchone()
        per_analysis = con.execute(
            'SELECT COUNT(DISTINCT "analysis_id") FROM "assay_results"').fetchone()
    assert orphans == (0,) and per_analysis == (2,)


def test_two_runs_on_one_postgres_database(demo: Path, postgres_wh: Warehouse,
                                           postgres_url: str) -> None:
    with duckdb.connect(str(demo / "warehouse.duckdb"), read_only=True) as con:
        for (name,) in con.execute("SELECT table_name FROM information_schema.tables "
                                   "WHERE table_schema = 'main'").fetchall():
            postgres_wh.write_table(name, con.table(name).to_arrow_table(), mode="replace")
    set_key(demo / "assay_project.yml", "warehouse", postgres_url)
    runs = _two_runs(demo)

    def rows(table: str) -> int:
        query = exp.select(exp.func("COUNT", exp.Star()).as_("n")).from_(
            exp.to_table(f"assay_{table}"))
        return int(postgres_wh.execute(query.sql(dialect="postgres")).to_pylist()[0]["n"])

    _assert_stored_once(runs, rows("analyses"), rows("results"), rows("checks"))
    ids = postgres_wh.execute('SELECT COUNT(DISTINCT "analysis_id") AS n FROM "assay_checks"')
    assert ids.to_pylist() == [{"n": 2}]
    assert rows("schema_version") == LATEST_VERSION  # migrated once, under the advisory lock
