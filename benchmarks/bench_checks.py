"""What the pitfall checks cost: `analyze` with and without them, side by side, same process.

    .venv/bin/python benchmarks/bench_checks.py --units 1_000_000 --repeats 3

Runs alternate (with, without, with, ...) on a warm warehouse so load drifts hit both alike;
prints each run, the medians and their ratio, and the load average. "Without" replaces
``assay.analysis.run.trust_checks`` by a stub that runs no query.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import assay.analysis.run as run
from assay.analysis.trust import Trust
from assay.spec import load_project

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--project", type=Path, default=None,
                        help="a project directory instead of benchmarks/data/u<units>")
    parser.add_argument("--experiment", default="bench")
    args = parser.parse_args()
    folder = args.project or HERE / "data" / f"u{args.units}"
    project = load_project(folder)
    real = run.trust_checks

    def stub(*_: object, **__: object) -> Trust:
        return Trust([], {})

    times: dict[str, list[float]] = {"with checks": [], "without": []}
    run.analyze(project, args.experiment)  # warm the page cache and imports
    for _ in range(args.repeats):
        for label, function in (("with checks", real), ("without", stub)):
            run.trust_checks = function  # type: ignore[assignment]
            started = time.perf_counter()
            run.analyze(project, args.experiment)
            times[label].append(time.perf_counter() - started)
            print(f"{label:12s} {times[label][-1]:7.2f} s", flush=True)
    run.trust_checks = real
    with_, without = (statistics.median(times[k]) for k in ("with checks", "without"))
    print(f"median with checks {with_:.2f} s, without {without:.2f} s: ratio {with_ / without:.2f}"
          f" (load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})")


if __name__ == "__main__":
    main()
