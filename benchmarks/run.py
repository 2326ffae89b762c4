"""Side by side, in one run: the floor, ``assay analyze``, and tea-tasting, on the same data.

Each candidate runs ``--repeats`` times in a fresh process, interleaved (floor, join, assay, tea,
floor, join, assay, tea, ...) so that load from other processes hits all of them alike; the medians
are compared. Wall time is the whole process (interpreter start, imports, connect, query,
statistics, output), as a user would time it; peak memory is the process's peak RSS from the
kernel (``wait4``). Writes ``benchmarks/results/latest.md`` and ``latest_u<units>.json``::

    .venv/bin/python benchmarks/run.py --units 1_000_000 --repeats 5
    .venv/bin/python benchmarks/run.py --units 10_000_000 --repeats 3 --skip-generate

``assay analyze`` is the real CLI (``assay analyze bench --format json``); with ``--stand-in`` (or
when the CLI has no ``analyze`` command) the best SQL shape (``sql_shapes/rel.sql``) runs instead
and is labelled as such.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "sql_shapes"))

from measure import Run, measure, median  # noqa: E402
from shapes import write  # noqa: E402

PYTHON = sys.executable
RESULTS = HERE / "results"
TARGETS = {"wall_x_floor": 1.3, "peak_x_floor": 2.0, "tea_x_assay": 1.4}


@dataclass(frozen=True)
class Candidate:
    """A command to race and its label."""

    key: str
    label: str
    argv: list[str]


def data_dir(units: int) -> Path:
    """Where ``generate.py`` puts a size (``benchmarks/data/u<units>``)."""
    return HERE / "data" / f"u{units}"


def ensure_data(units: int, skip_generate: bool) -> Path:
    """Generate the warehouse unless it exists (or ``--skip-generate`` says it must)."""
    out = data_dir(units)
    db = out / "warehouse.duckdb"
    if db.exists():
        return out
    if skip_generate:
        raise SystemExit(f"{db} does not exist; run without --skip-generate")
    subprocess.run([PYTHON, str(HERE / "generate.py"), "--units", str(units)], check=True)
    return out


def assay_command(project: Path, stand_in: bool) -> Candidate:
    """The real ``assay analyze`` if available, else the best SQL shape as a labelled stand-in."""
    exe = shutil.which("assay", path=str(Path(PYTHON).parent))
    if exe and not stand_in:
        probe = subprocess.run([exe, "analyze", "--help"], capture_output=True, check=False)
        if probe.returncode == 0:
            return Candidate("assay", "assay analyze (10 metrics, CUPED, dedup, SRM)",
                             [exe, "analyze", "bench", "--project", str(project),
                              "--format", "json"])
    return Candidate("assay", "assay STAND-IN: sql_shapes/rel.sql (best SQL shape, no stats)",
                     [PYTHON, str(HERE / "sql_shapes" / "run_sql.py"),
                      str(project / "warehouse.duckdb"), str(write("rel")),
                      "--no-rows"])


def candidates(project: Path, stand_in: bool) -> list[Candidate]:
    """Floor, assay, tea-tasting."""
    db = str(project / "warehouse.duckdb")
    return [
        Candidate("floor", "floor (read needed columns, GROUP BY unit per source)",
                  [PYTHON, str(HERE / "floor.py"), db]),
        Candidate("join", "floor + first-exposure dedup and join (lower bound of exact analyses)",
                  [PYTHON, str(HERE / "floor.py"), db, "--join"]),
        assay_command(project, stand_in),
        Candidate("tea", "tea-tasting 1.x via Ibis/DuckDB (same metrics, CUPED, SRM)",
                  [PYTHON, str(HERE / "tea_tasting_bench.py"), db]),
    ]


def race(cands: list[Candidate], repeats: int, project: Path) -> dict[str, list[Run]]:
    """Interleaved runs; a failing run is reported and left out of the medians (the report
    shows how many runs each median is over)."""
    (project / "warehouse.duckdb").read_bytes()  # page cache warm for everyone
    runs: dict[str, list[Run]] = {c.key: [] for c in cands}
    for rep in range(repeats):
        for cand in cands:
            run = measure(cand.argv, cwd=project)
            status = "ok" if run.returncode == 0 else f"FAILED rc={run.returncode}"
            print(f"  rep {rep} {cand.key:<6} wall {run.wall:8.2f}s  cpu {run.cpu:8.2f}s  "
                  f"peak {run.peak_mb:8.0f} MB  {status}", flush=True)
            if run.returncode != 0:
                print(run.stderr[-1500:], flush=True)
                continue
            runs[cand.key].append(run)
    return runs


def summarise(cands: list[Candidate], runs: dict[str, list[Run]]) -> dict[str, Any]:
    """Medians per candidate, the three target ratios and whether each is met."""
    rows = {}
    for cand in cands:
        rs = runs[cand.key]
        rows[cand.key] = {
            "label": cand.label, "runs": len(rs),
            "wall_s": round(median([r.wall for r in rs]), 3),
            "inner_s": round(median([r.inner for r in rs]), 3),
            "cpu_s": round(median([r.cpu for r in rs]), 3),
            "peak_mb": round(median([r.peak_mb for r in rs]), 1),
            "walls": [round(r.wall, 3) for r in rs],
        }
    floor, assay, tea = rows["floor"], rows["assay"], rows["tea"]
    bound = rows["join"]
    ratios = {
        "join_x_floor": bound["wall_s"] / floor["wall_s"],
        "join_peak_x_floor": bound["peak_mb"] / floor["peak_mb"],
        "wall_x_floor": assay["wall_s"] / floor["wall_s"],
        "peak_x_floor": assay["peak_mb"] / floor["peak_mb"],
        "tea_x_assay": tea["wall_s"] / assay["wall_s"],
    }
    met = {
        "wall_x_floor": ratios["wall_x_floor"] <= TARGETS["wall_x_floor"],
        "peak_x_floor": ratios["peak_x_floor"] <= TARGETS["peak_x_floor"],
        "tea_x_assay": ratios["tea_x_assay"] >= TARGETS["tea_x_assay"],
    }
    return {"rows": rows, "ratios": {k: round(v, 3) for k, v in ratios.items()}, "met": met}


def render(summary: dict[str, Any], units: int, repeats: int, info: dict[str, Any]) -> str:
    """The Markdown report."""
    lines = [
        f"# Benchmark: {units:,} units", "",
        f"Run {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} on {info['machine']}; "
        f"median of {repeats} runs per candidate, each a fresh process, interleaved.",
        f"Data: {info['data_rows']}.", "",
        "| candidate | runs | wall s (process) | in-process s | CPU s | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in summary["rows"].values():
        lines.append(f"| {row['label']} | {row['runs']} | {row['wall_s']:.2f} | "
                     f"{row['inner_s']:.2f} | {row['cpu_s']:.2f} | {row['peak_mb']:.0f} |")
    r, m = summary["ratios"], summary["met"]
    lines += [
        "", "| target | measured | goal | met |", "| --- | ---: | ---: | --- |",
        f"| assay wall / floor wall | {r['wall_x_floor']:.2f}x | <= 1.3x | "
        f"{'yes' if m['wall_x_floor'] else 'NO'} |",
        f"| assay peak / floor peak | {r['peak_x_floor']:.2f}x | <= 2.0x | "
        f"{'yes' if m['peak_x_floor'] else 'NO'} |",
        f"| tea-tasting wall / assay wall | {r['tea_x_assay']:.2f}x | >= 1.4x | "
        f"{'yes' if m['tea_x_assay'] else 'NO'} |",
        "", f"Lower bound for any analysis with exact windows from each unit's first exposure: "
        f"the floor plus that dedup and join takes {r['join_x_floor']:.2f}x the floor's wall "
        f"time ({r['join_peak_x_floor']:.2f}x its peak memory), before any window or statistic.",
        "", "Individual wall times (s): " + "; ".join(
            f"{k}: {v['walls']}" for k, v in summary["rows"].items()), "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-generate", action="store_true",
                        help="fail instead of generating missing data")
    parser.add_argument("--stand-in", action="store_true",
                        help="run the best SQL shape instead of the assay CLI")
    args = parser.parse_args()
    project = ensure_data(args.units, args.skip_generate)
    cands = candidates(project, args.stand_in)
    for cand in cands:
        print(f"{cand.key}: {cand.label}\n    {' '.join(cand.argv)}", flush=True)
    runs = race(cands, args.repeats, project)
    if not all(runs.values()):
        raise SystemExit("a candidate failed every run; no report written")
    summary = summarise(cands, runs)
    generated = project / "generated.json"
    info = {"machine": f"{platform.machine()}, {_cpus()} CPUs, Python {platform.python_version()}",
            "data_rows": json.loads(generated.read_text())["rows"] if generated.exists() else "?"}
    report = render(summary, args.units, args.repeats, info)
    print("\n" + report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(report)
    (RESULTS / f"latest_u{args.units}.md").write_text(report)
    (RESULTS / f"latest_u{args.units}.json").write_text(json.dumps(
        {"units": args.units, "repeats": args.repeats, **summary, **info}, indent=2))


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
