"""The 1M-unit experiment on DuckDB, PostgreSQL, Spark local and a Spark standalone cluster,
side by side in one run.

Every engine gets the same tables (the benchmark warehouse of ``generate.py``): DuckDB reads its
file, PostgreSQL gets them through ``write_table`` (COPY) on a server this script starts, and
both Spark modes read the same Parquet files (exported from DuckDB) as external tables. Each
engine lives in a worker process of its own (one Spark driver per process), set up and warmed
once; then the rounds interleave (duckdb, postgres, spark, cluster, duckdb, ...) so the load
from other processes on a shared machine hits all of them alike. The time is ``analyze()``
alone, in the worker, with the session open: what a scheduled analysis pays, not start-up.
Figures of every engine are checked against DuckDB's to 1e-9 relative.

The cluster is the test suite's (``tests/spark_cluster.py``): a Master and two Workers on
127.0.0.1, here with one application using one 1-core, 1 GB executor per Worker. Load
(``/proc/loadavg``) is recorded before and after: on a shared machine, read the ratios, not the
seconds. Writes ``results/engines_u<units>.json`` and ``.md``::

    .venv/bin/python benchmarks/bench_engines.py --units 1_000_000 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

ENGINES = ("duckdb", "postgres", "spark_local", "spark_cluster")
TABLES = ("exposures", "orders", "sessions", "users")
REL = 1e-9
_SKIP = {"run_at", "warehouse", "versions", "sql"}


# --------------------------------------------------------------------------- worker side

def _open(engine: str, project: Path, url: str, parquet: Path) -> Any:
    """The engine's warehouse with the benchmark tables in it."""
    from sqlglot import exp

    from assay.warehouse import connect
    from assay.warehouse.duckdb import DuckDBWarehouse

    if engine == "duckdb":
        return DuckDBWarehouse(project / "warehouse.duckdb", read_only=True)
    wh = connect(url)
    source = DuckDBWarehouse(project / "warehouse.duckdb", read_only=True)
    try:
        for table in TABLES:
            if engine == "postgres":
                query = exp.select("*").from_(exp.to_table(table)).sql("duckdb")
                wh.write_table(table, source.execute(query), mode="replace")
            else:  # every Spark executor reads the same Parquet files
                location = exp.Literal.string(str(parquet / table)).sql("spark")
                name = exp.to_identifier(table, quoted=True).sql("spark")
                wh.execute(f"DROP TABLE IF EXISTS {name}")
                wh.execute(f"CREATE TABLE {name} USING parquet LOCATION {location}")
    finally:
        source.close()
    return wh


def worker(engine: str, project: Path, url: str, parquet: Path) -> None:
    """Set up, then answer ``run`` with one timed analysis (a JSON line) until ``quit``."""
    from assay.analysis import analyze
    from assay.spec.project import load_project

    began = time.perf_counter()
    wh = _open(engine, project, url, parquet)
    spec = load_project(project)
    print(json.dumps({"ready": round(time.perf_counter() - began, 2)}), flush=True)
    try:
        for line in sys.stdin:
            if line.strip() != "run":
                break
            start = time.perf_counter()
            result = analyze(spec, "bench", warehouse=wh).to_dict()
            print(json.dumps({"seconds": time.perf_counter() - start, "result": result}),
                  flush=True)
    finally:
        wh.close()


# --------------------------------------------------------------------------- controller side

def _load() -> str:
    return Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else "?"


def _export_parquet(project: Path, out: Path) -> None:
    import duckdb

    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        for table in TABLES:
            (out / table).mkdir(parents=True)
            con.execute(f"COPY (SELECT * FROM \"{table}\") TO '{out / table / 'part.parquet'}' "
                        "(FORMAT parquet)")
    finally:
        con.close()


class Worker:
    """One engine's worker process."""

    def __init__(self, engine: str, project: Path, url: str, parquet: Path,
                 env: dict[str, str]) -> None:
        self.engine = engine
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", engine, "--project", str(project),
             "--url", url, "--parquet", str(parquet)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.engine} worker exited ({self.process.wait()})")
            if line.startswith("{"):
                message: dict[str, Any] = json.loads(line)
                return message

    def run(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        return self.read()

    def quit(self) -> None:
        if self.process.poll() is None and self.process.stdin is not None:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _differences(got: Any, want: Any, path: str = "") -> list[str]:
    if isinstance(want, dict) and isinstance(got, dict):
        return [d for k in sorted((set(want) | set(got)) - _SKIP)
                for d in _differences(got.get(k), want.get(k), f"{path}.{k}")]
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return [f"{path}: {len(got)} items, expected {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want, strict=True))
                for d in _differences(g, w, f"{path}[{i}]")]
    if isinstance(want, float) and isinstance(got, int | float):
        return [] if math.isclose(got, want, rel_tol=REL, abs_tol=1e-300) else [
            f"{path}: {got!r} != {want!r}"]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


def race(project: Path, rounds: int, engines: tuple[str, ...]) -> dict[str, Any]:
    """Start every engine, interleave ``rounds`` analyses, stop everything."""
    from tests.conftest import start_postgres
    from tests.spark_cluster import start_cluster

    scratch = Path(tempfile.mkdtemp(prefix="assay-bench-engines-"))
    parquet = scratch / "parquet"
    _export_parquet(project, parquet)
    settings = ("spark.sql.parquet.inferTimestampNTZ.enabled=false"  # TIMESTAMP, as written
                f"&warehouse_dir={scratch / 'spark-warehouse'}")
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    server = start_postgres() if "postgres" in engines else None
    cluster = start_cluster(connect=False) if "spark_cluster" in engines else None
    urls = {
        "duckdb": "duckdb:///unused",
        "postgres": server.url if server else "",
        "spark_local": f"spark://local[2]?spark.driver.memory=2g&{settings}",
        "spark_cluster": (f"{cluster.master_url}?spark.executor.memory=1g&spark.cores.max=2"
                          "&spark.executor.cores=1&spark.driver.host=127.0.0.1"
                          "&spark.driver.bindAddress=127.0.0.1&spark.ui.enabled=false"
                          f"&spark.driver.memory=2g&spark.sql.shuffle.partitions=4&{settings}"
                          if cluster else ""),
    }
    workers: list[Worker] = []
    timings: dict[str, list[float]] = {e: [] for e in engines}
    setup: dict[str, float] = {}
    problems: dict[str, list[str]] = {}
    try:
        for engine in engines:  # one at a time: set-up loads are not raced
            worker_ = Worker(engine, project, urls[engine], parquet, env)
            workers.append(worker_)
            setup[engine] = worker_.read()["ready"]
            warm = worker_.run()  # first analysis: JIT, caches; not counted
            print(f"  {engine:<14} set up {setup[engine]:7.1f}s, warm-up "
                  f"{warm['seconds']:7.1f}s", flush=True)
        reference = None
        for index in range(rounds):
            for worker_ in workers:
                answer = worker_.run()
                timings[worker_.engine].append(answer["seconds"])
                if worker_.engine == "duckdb":
                    reference = answer["result"]
                elif reference is not None:
                    problems[worker_.engine] = _differences(answer["result"], reference)
                print(f"  round {index} {worker_.engine:<14} {answer['seconds']:7.2f}s "
                      f"load {_load()}", flush=True)
    finally:
        for worker_ in workers:
            worker_.quit()
        if cluster is not None:
            cluster.stop()
        if server is not None:
            server.stop()
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
    return {"timings": timings, "setup": setup, "problems": problems}


def render(units: int, rounds: int, data: dict[str, Any], info: dict[str, Any]) -> str:
    medians = {e: statistics.median(t) for e, t in data["timings"].items() if t}
    base = medians["duckdb"]
    lines = [
        f"# Engines side by side: {units:,} units", "",
        f"Run {info['when']} on {info['machine']}; {rounds} interleaved rounds after one warm-up "
        "each; time of `analyze()` with the session open (median).",
        f"Load average before: {info['load_before']}; after: {info['load_after']}. "
        "**The machine is shared with other engineers' test runs**: seconds move with their "
        "load, ratios from the same rounds much less.", "",
        "| engine | set-up s | analyze s (median) | x DuckDB | rounds (s) | figures = DuckDB |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for engine, median in medians.items():
        problems = data["problems"].get(engine)
        agree = "reference" if engine == "duckdb" else (
            "yes (1e-9)" if problems == [] else f"NO: {len(problems or [])} differences")
        rounds_s = ", ".join(f"{t:.1f}" for t in data["timings"][engine])
        lines.append(f"| {engine} | {data['setup'][engine]:.1f} | {median:.2f} | "
                     f"{median / base:.1f}x | {rounds_s} | {agree} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--parquet", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.project, args.url, args.parquet)
        return
    from run import ensure_data

    project = ensure_data(args.units, skip_generate=False)
    info = {"when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
                       f"{platform.python_version()}",
            "load_before": _load()}
    data = race(project, args.rounds, tuple(args.engines))
    info["load_after"] = _load()
    report = render(args.units, args.rounds, data, info)
    out = HERE / "results" / f"engines_u{args.units}"
    out.with_suffix(".md").write_text(report, encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({**data, **info}, indent=1), encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
