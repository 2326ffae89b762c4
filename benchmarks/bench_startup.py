"""Start-up cost of the CLI: ``assay validate`` on the demo beside ``assay --help``.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--repeat 5]``. The three commands
(``--help``, ``validate --offline``, ``validate`` with its catalogue look-ups) run as fresh
processes, interleaved, ``--repeat`` times each; the table gives the median wall time and the
median user+system CPU time (which a loaded machine inflates far less than wall time), and each
one's ratio to ``--help``. Target (issue 15): validate under 1 s on a quiet machine, help ~0.2 s.

The demo's ``onboarding_tips`` shares ``recs_carousel``'s salt on purpose (docs/demo.md), so
``validate`` reports it and exits 2 after doing all of its work: exit 2 is expected here.

For paired runs with the OS's own accounting, the same comparison with farm-bench::

    cd <demo> && farm-bench -n 10 --vs ".venv/bin/assay --help" -- .venv/bin/assay validate
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
COMMANDS = {"--help": ["--help"], "validate --offline": ["validate", "--offline"],
            "validate": ["validate"]}


def _run(args: list[str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run([ASSAY, *args], cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode not in (0, 2):  # 2: the demo's deliberate shared salt
        raise SystemExit(f"assay {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
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
        timings: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
        for _ in range(options.repeat):  # interleaved: every command sees the same load
            for name, args in COMMANDS.items():
                timings[name].append(_run(args, root))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'command':<26}{'wall (median)':>15}{'cpu (median)':>15}{'cpu / help':>12}")
    help_cpu = statistics.median(c for _, c in timings["--help"])
    for name, runs in timings.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{'assay ' + name:<26}{wall:>14.2f}s{cpu:>14.2f}s{cpu / help_cpu:>11.1f}x")


if __name__ == "__main__":
    main()
