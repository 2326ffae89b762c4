"""Run a command in a fresh process and measure it: wall time, CPU time, peak RSS.

``os.wait4`` returns the resource usage of exactly that child (and the descendants it waited
for), so peak RSS is the kernel's own high-water mark, not a sampled guess. Used by
``explore.py`` and ``benchmarks/run.py``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Run:
    """One measured process."""

    wall: float
    cpu: float
    peak_mb: float
    returncode: int
    report: dict[str, Any] = field(default_factory=dict)
    stderr: str = ""

    @property
    def inner(self) -> float:
        """The seconds the process reported for its own work, else its wall time."""
        return float(self.report.get("seconds", self.wall))


def measure(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """Run ``argv`` to completion; its last stdout line, if JSON, becomes ``report``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd,
                                env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    report: dict[str, Any] = {}
    lines = [line for line in stdout.splitlines() if line.strip()]
    if lines:
        try:
            report = json.loads(lines[-1])
        except json.JSONDecodeError:
            report = {}
        if not isinstance(report, dict):
            report = {"value": report}
    return Run(wall=wall, cpu=usage.ru_utime + usage.ru_stime, peak_mb=usage.ru_maxrss / 1024,
               returncode=proc.returncode, report=report, stderr=stderr[-4000:])


def median(values: list[float]) -> float:
    """Median, NaN for no values."""
    return statistics.median(values) if values else float("nan")
