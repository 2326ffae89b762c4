"""Race the SQL shapes against each other and the floor, each run in a fresh process.

Runs are interleaved (A B C A B C ...) so that load from other processes on the machine hits every
candidate alike; the median of ``--repeats`` runs is reported, with CPU seconds (less sensitive
to contention than wall time) and peak RSS. Every shape's result is checked against the first
result of ``--oracle`` (default ``reference`` when it is in the race, else ``source_pass``)::

    .venv/bin/python benchmarks/sql_shapes/explore.py --units 1000000 --repeats 5 \
        --candidates floor straight source_pass union_pass source_pass+pio
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
sys.path.insert(0, str(HERE))

from measure import Run, measure, median  # noqa: E402
from shapes import write  # noqa: E402

PYTHON = sys.executable
SETTINGS = {
    "pio": ["--preserve-insertion-order", "false"],
    "t1": ["--threads", "1"],
    "mem4": ["--memory-limit", "4GB"],
}


def command(candidate: str, db: Path) -> list[str]:
    """The argv that runs one candidate: ``floor``, ``floor_nofilter`` or ``<shape>[+setting]``."""
    if candidate == "floor":
        return [PYTHON, str(BENCH / "floor.py"), str(db)]
    if candidate == "floor_nofilter":
        return [PYTHON, str(BENCH / "floor.py"), str(db), "--no-time-filter"]
    shape, *settings = candidate.split("+")
    argv = [PYTHON, str(HERE / "run_sql.py"), str(db), str(write(shape))]
    for setting in settings:
        argv += SETTINGS[setting]
    return argv


def same_rows(a: list[dict[str, Any]], b: list[dict[str, Any]], rel: float = 1e-7) -> str | None:
    """None if the two results agree (numbers to ``rel``), else what differs."""
    if len(a) != len(b):
        return f"{len(a)} rows vs {len(b)}"
    for ra, rb in zip(a, b, strict=True):
        for key in ra:
            va, vb = ra[key], rb.get(key)
            if isinstance(va, int | float) and isinstance(vb, int | float):
                if not math.isclose(float(va), float(vb), rel_tol=rel, abs_tol=1e-6):
                    return f"{key}: {va} vs {vb}"
            elif str(va) != str(vb):
                return f"{key}: {va!r} vs {vb!r}"
    return None


def race(db: Path, candidates: list[str], repeats: int, oracle: str) -> dict[str, list[Run]]:
    """Interleaved runs; checks results against the oracle; returns the runs by candidate."""
    runs: dict[str, list[Run]] = {c: [] for c in candidates}
    expected: list[dict[str, Any]] | None = None
    db.read_bytes()  # warm the page cache so the first candidate is not penalised
    for rep in range(repeats):
        for cand in candidates:
            run = measure(command(cand, db))
            if run.returncode != 0:
                print(f"  {cand} FAILED: {run.stderr[-800:]}", flush=True)
                continue
            runs[cand].append(run)
            rows = run.report.get("rows")
            if cand == oracle and expected is None:
                expected = rows
            elif expected is not None and rows is not None and not cand.startswith("floor"):
                problem = same_rows(expected, rows)
                if problem:
                    print(f"  MISMATCH {cand} vs {oracle}: {problem}", flush=True)
            print(f"  rep {rep} {cand:<28} {run.inner:7.2f}s cpu {run.cpu:7.2f}s "
                  f"peak {run.peak_mb:7.0f} MB", flush=True)
    return runs


def summarise(runs: dict[str, list[Run]], units: int) -> list[dict[str, Any]]:
    """Median wall/cpu/peak per candidate and ratios to the floor."""
    floor = runs.get("floor") or []
    fw = median([r.inner for r in floor])
    fc = median([r.cpu for r in floor])
    fm = median([r.peak_mb for r in floor])
    table = []
    for cand, rs in runs.items():
        if not rs:
            continue
        wall, cpu, peak = (median([r.inner for r in rs]), median([r.cpu for r in rs]),
                           median([r.peak_mb for r in rs]))
        table.append({"units": units, "candidate": cand, "runs": len(rs),
                      "wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "peak_mb": round(peak),
                      "wall_x_floor": round(wall / fw, 2) if floor else None,
                      "cpu_x_floor": round(cpu / fc, 2) if floor else None,
                      "peak_x_floor": round(peak / fm, 2) if floor else None,
                      "walls": [round(r.inner, 3) for r in rs]})
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--candidates", nargs="+",
                        default=["floor", "straight", "source_pass", "union_pass"])
    parser.add_argument("--oracle", default=None)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    db = BENCH / "data" / f"u{args.units}" / "warehouse.duckdb"
    oracle = args.oracle or ("reference" if "reference" in args.candidates else "source_pass")
    runs = race(db, args.candidates, args.repeats, oracle)
    table = summarise(runs, args.units)
    print(f"\n{'candidate':<28} {'wall s':>8} {'x floor':>8} {'cpu s':>8} {'x floor':>8} "
          f"{'peak MB':>8} {'x floor':>8}")
    for row in table:
        print(f"{row['candidate']:<28} {row['wall_s']:8.2f} {row['wall_x_floor'] or 0:8.2f} "
              f"{row['cpu_s']:8.2f} {row['cpu_x_floor'] or 0:8.2f} {row['peak_mb']:8.0f} "
              f"{row['peak_x_floor'] or 0:8.2f}")
    out = BENCH / "results" / f"sql_shapes_u{args.units}{args.tag}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(table, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
