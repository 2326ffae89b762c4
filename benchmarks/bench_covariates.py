"""What regression adjustment on covariates costs: `assay analyze` with and without them.

Prepares two projects over the benchmark warehouse (``generate.py``'s data, generated if
missing): ``plain`` analyses revenue, orders, conversion and sessions with CUPED; ``adjusted``
the same metrics each adjusted on five more covariates (sessions and orders before exposure,
a user's country one-hot over 3 levels and platform over 2, read from the users table). Both
run as one metrics statement; the adjusted one sums 8 variables' moments per metric instead
of 2. Then times both side by side with farm-bench (pairs A B A B ..., ratio per pair)::

    .venv/bin/python benchmarks/bench_covariates.py --units 1_000_000 --runs 5

prints the farm-bench report; ``--prepare-only`` writes the projects and prints the command.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

USERS_SQL = ("SELECT user_id, CAST('1970-01-01' AS TIMESTAMP) AS since, country, platform "
             "FROM users")
METRICS = ("revenue", "orders", "conversion", "sessions")


def covariates() -> list[object]:
    """Five covariates beyond CUPED's own pre-period (seven variables with one-hot levels)."""
    return [
        {"metric": "sessions"}, {"metric": "orders"},
        {"attribute": "country", "source": "users", "levels": ["US", "DE", "FR"]},
        {"attribute": "platform", "source": "users", "levels": ["ios", "android"]},
    ]


def prepare(data: Path, out: Path, *, adjusted: bool) -> Path:
    """A project over ``data``'s warehouse analysing :data:`METRICS`, with or without
    covariates."""
    project = yaml.safe_load((data / "assay_project.yml").read_text())
    project["warehouse"] = f"duckdb:///{(data / 'warehouse.duckdb').resolve()}"
    project["sources"]["users"] = {"sql": USERS_SQL, "unit": "user_id", "timestamp": "since"}
    experiment = yaml.safe_load((data / "experiments" / "bench.yml").read_text())
    experiment["metrics"] = {"primary": ["revenue"], "secondary": list(METRICS[1:])}
    if adjusted:
        experiment["covariates"] = covariates()
    if out.exists():
        shutil.rmtree(out)
    (out / "metrics").mkdir(parents=True)
    (out / "experiments").mkdir()
    shutil.copy(data / "metrics" / "bench.yml", out / "metrics" / "bench.yml")
    (out / "assay_project.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    (out / "experiments" / "bench.yml").write_text(yaml.safe_dump(experiment, sort_keys=False))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prepare-only", action="store_true")
    args = parser.parse_args()
    data = generate.default_out(args.units)
    if not (data / "warehouse.duckdb").exists():
        generate.generate(data, args.units, 20260105, "16GB", None)
    root = HERE / "data" / f"covariates_u{args.units}"
    assay = str(Path(sys.executable).with_name("assay"))

    def command(name: str) -> list[str]:
        project = prepare(data, root / name, adjusted=name == "adjusted")
        return [assay, "analyze", "bench", "-p", str(project), "--format", "json", "--no-store"]

    a, b = command("adjusted"), command("plain")
    bench = ["farm-bench", "-n", str(args.runs), "--timeout", "3000", "--vs", shlex.join(b),
             "--", *a]
    print(shlex.join(bench), flush=True)
    if not args.prepare_only:
        subprocess.run(bench, check=True)


if __name__ == "__main__":
    main()
