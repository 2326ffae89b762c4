"""Run one SQL file against a DuckDB file in this (fresh) process; print a JSON line.

The JSON holds the query's wall time (connect to last row fetched), this process's peak RSS and
the result rows, so that ``explore.py`` can compare shapes and check they agree::

    .venv/bin/python benchmarks/sql_shapes/run_sql.py DB.duckdb shape.sql [--threads 2]
        [--preserve-insertion-order false] [--memory-limit 16GB]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import duckdb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("sql", type=Path)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--preserve-insertion-order", default=None, choices=["true", "false"])
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--no-rows", action="store_true", help="do not print result rows")
    args = parser.parse_args()
    statements = [s for s in args.sql.read_text().split(";\n") if s.strip()]
    began = time.perf_counter()
    con = duckdb.connect(str(args.db), read_only=True)
    if args.threads:
        con.execute("SET threads = $1", [args.threads])
    if args.preserve_insertion_order:
        con.execute("SET preserve_insertion_order = $1", [args.preserve_insertion_order == "true"])
    if args.memory_limit:
        con.execute("SET memory_limit = $1", [args.memory_limit])
    rows: list[dict[str, object]] = []
    for statement in statements:
        result = con.execute(statement)
        if result.description is not None:
            names = [d[0] for d in result.description]
            rows = [dict(zip(names, r, strict=True)) for r in result.fetchall()]
    seconds = time.perf_counter() - began
    con.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"seconds": round(seconds, 4), "peak_rss_mb": round(peak_mb, 1)}
    if not args.no_rows:
        out["rows"] = rows
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
