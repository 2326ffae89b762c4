"""Start-up cost of the CLI: ``assay validate --offline`` on the demo beside ``assay --help``.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--repeat 5]``. Both commands run as fresh
processes, side by side, ``--repeat`` times each; the table gives the median wall time and the
median user+system CPU time (which a loaded machine inflates far less than wall time), and the
ratio of validate to help. Target (issue 15): validate under 1 s on a quiet machine, help ~0.2 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ASSAY = str(Path(sys.executable).with_name("assay"))


def _run(args: list[str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run([ASSAY, *args], cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    from assay.demo import build_demo

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "demo"
        build_demo(root, seed=1, users=2000)
        timings: dict[str, list[tuple[float, float]]] = {"help": [], "validate": []}
        for _ in range(options.repeat):  # interleaved: both see the same machine load
            timings["help"].append(_run(["--help"], root))
            timings["validate"].append(_run(["validate", "--offline"], root))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'command':<22}{'wall (median)':>15}{'cpu (median)':>15}")
    medians = {}
    for name, runs in timings.items():
        medians[name] = (statistics.median(w for w, _ in runs),
                         statistics.median(c for _, c in runs))
        print(f"{'assay ' + name:<22}{medians[name][0]:>14.2f}s{medians[name][1]:>14.2f}s")
    print(f"validate / help: {medians['validate'][1] / medians['help'][1]:.1f}x cpu")


if __name__ == "__main__":
    main()
