"""What the pitfall checks cost: `analyze` with and without them, side by side.

    # in one process, runs alternating (with, without, with, ...) on a warm warehouse
    .venv/bin/python benchmarks/bench_checks.py --units 1_000_000 --repeats 5
    .venv/bin/python benchmarks/bench_checks.py --project /tmp/assay-demo \
        --experiment recs_carousel --repeats 5

    # the checks' statements against the metrics statement, alternating, in one process
    # (their SQL as the analysis ran it; CPU seconds of this process: DuckDB runs in it)
    .venv/bin/python benchmarks/bench_checks.py --units 1_000_000 --statements --repeats 5

    # one whole analysis per process (time it from outside, e.g. /usr/bin/time -v, or
    # hyperfine 'python benchmarks/bench_checks.py --once with' '... --once without')
    .venv/bin/python benchmarks/bench_checks.py --units 1_000_000 --once with
    .venv/bin/python benchmarks/bench_checks.py --units 1_000_000 --once without

Alternating runs let load drifts hit both alike; the loop prints each run, the medians, their
ratio, the check statements' own time and the load average. "Without" replaces
``assay.analysis.run.trust_checks`` by a stub that runs no query (the eight exposure and result
checks, which read figures the analysis fetches anyway, still run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import assay.analysis.run as run
from assay.analysis.trust import Trust
from assay.spec import load_project
from assay.spec.project import Project

HERE = Path(__file__).resolve().parent


def _stub(*_: object, **__: object) -> Trust:
    return Trust([], {})


def _timed_checks(project: Project, experiment: str) -> tuple[float, float]:
    """One analysis: (whole seconds, seconds in the checks' statements)."""
    wh = project.warehouse()
    spent = [0.0]
    execute = wh.execute

    def timed(sql: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, *args, **kwargs)
        finally:
            if "check:" in _current[0]:
                spent[0] += time.perf_counter() - started

    wh.execute = timed
    started = time.perf_counter()
    try:
        run.analyze(project, experiment, warehouse=wh,
                    on_step=lambda s: _current.__setitem__(0, _label(s)))
    finally:
        wh.close()
    return time.perf_counter() - started, spent[0]


_current = [""]


def _label(step: str) -> str:
    # the trust checks' progress lines (analysis/trust.py) start their statements
    return "check:" if step.startswith(("checking the traffic", "looking for inactive")) else ""


def _statements(project: Project, experiment: str, repeats: int) -> None:
    """Alternate the checks' statements (``check:*``) and the metrics statement."""
    wh = project.warehouse()
    try:
        sql = run.analyze(project, experiment, warehouse=wh).sql
        groups = {"checks": [q for k, q in sql.items() if k.startswith("check:")],
                  "metrics": [sql["metrics"]]}
        seconds: dict[str, list[tuple[float, float]]] = {k: [] for k in groups}
        for _ in range(repeats):
            for label, statements in groups.items():
                cpu, wall = time.process_time(), time.perf_counter()
                for statement in statements:
                    wh.execute(statement)
                seconds[label].append((time.process_time() - cpu, time.perf_counter() - wall))
                print(f"{label:8s} cpu {seconds[label][-1][0]:6.2f} s  wall "
                      f"{seconds[label][-1][1]:6.2f} s", flush=True)
    finally:
        wh.close()
    ratios = [c[0] / m[0] for c, m in zip(seconds["checks"], seconds["metrics"], strict=True)]
    print(f"checks / metrics statement: cpu ratio median {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}); load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--project", type=Path, default=None,
                        help="a project directory instead of benchmarks/data/u<units>")
    parser.add_argument("--experiment", default="bench")
    parser.add_argument("--once", choices=("with", "without"), default=None,
                        help="run one analysis, with or without the checks' statements, and exit")
    parser.add_argument("--statements", action="store_true",
                        help="time the checks' statements against the metrics statement")
    args = parser.parse_args()
    folder = args.project or HERE / "data" / f"u{args.units}"
    project = load_project(folder)
    if args.statements:
        _statements(project, args.experiment, args.repeats)
        return
    real = run.trust_checks
    if args.once is not None:
        if args.once == "without":
            run.trust_checks = _stub
        run.analyze(project, args.experiment)
        return
    times: dict[str, list[float]] = {"with checks": [], "without": []}
    checks: list[float] = []
    run.analyze(project, args.experiment)  # warm the page cache and imports
    for _ in range(args.repeats):
        for label, function in (("with checks", real), ("without", _stub)):
            run.trust_checks = function
            whole, spent = _timed_checks(project, args.experiment)
            times[label].append(whole)
            if function is real:
                checks.append(spent)
            print(f"{label:12s} {whole:7.2f} s", flush=True)
    run.trust_checks = real
    with_, without = (statistics.median(times[k]) for k in ("with checks", "without"))
    print(f"median with checks {with_:.2f} s, without {without:.2f} s: ratio "
          f"{with_ / without:.2f}; the checks' statements {statistics.median(checks):.2f} s"
          f" (load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})")


if __name__ == "__main__":
    main()
