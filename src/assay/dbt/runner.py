"""Running dbt's own command line (``dbt parse``, ``dbt build``) when assay is asked to.

dbt is a separate program to assay: it may live in its own virtualenv (its pins conflict with
assay's development tools, see docs/dbt.md), so it is found as an executable, never imported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from assay.errors import AssayError, SpecError, SpecIssue

#: Environment variable naming the dbt executable (e.g. one in a separate virtualenv).
DBT_ENV = "ASSAY_DBT"
_FILE = re.compile(r"(?P<path>[\w./\\-]+\.(?:ya?ml|sql|csv))")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TIMESTAMP = re.compile(r"^\s*\d\d:\d\d:\d\d\s+")


class DbtNotFound(AssayError):
    """dbt is needed and not installed."""


@dataclass(frozen=True)
class DbtRun:
    """One dbt invocation: its arguments, exit code and output (colours stripped)."""

    args: tuple[str, ...]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        """dbt exited 0."""
        return self.returncode == 0


def dbt_executable() -> str:
    """The dbt to run: ``$ASSAY_DBT``, else the one beside this Python, else ``dbt`` on PATH."""
    chosen = os.environ.get(DBT_ENV)
    if chosen:
        return chosen
    beside = Path(sys.executable).with_name("dbt")
    if beside.is_file():
        return str(beside)
    found = shutil.which("dbt")
    if found is None:
        raise DbtNotFound(
            "dbt is not installed: `pip install 'assay[dbt]'` (or into its own virtualenv and "
            f"set {DBT_ENV} to its dbt), or run `dbt parse` yourself and leave `dbt.parse` off"
        )
    return found


def run_dbt(
    args: list[str],
    project_dir: Path,
    *,
    profiles_dir: Path | None = None,
    target: str | None = None,
    timeout: float = 900,
) -> DbtRun:
    """Run ``dbt <args>`` in ``project_dir`` (offline: no usage statistics are sent)."""
    command = [dbt_executable(), "--no-use-colors", *args,
               "--project-dir", str(project_dir),
               "--profiles-dir", str(profiles_dir or project_dir)]
    if target is not None:
        command += ["--target", target]
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "NO_COLOR": "1"}
    done = subprocess.run(
        command, cwd=project_dir, env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )
    output = _ANSI.sub("", (done.stdout or "") + (done.stderr or ""))
    return DbtRun(tuple(args), done.returncode, output)


def parse_project(
    project_dir: Path, shown: str, *, profiles_dir: Path | None = None, target: str | None = None
) -> None:
    """``dbt parse``; a project that does not parse is a :class:`SpecError` naming dbt's file.

    Args:
        project_dir: The dbt project.
        shown: The project directory as shown to the user.
        profiles_dir: Where profiles.yml is (default: the project).
        target: The dbt target.
    """
    run = run_dbt(["parse"], project_dir, profiles_dir=profiles_dir, target=target)
    if not run.ok:
        raise SpecError([failure_issue(run, shown)])


def failure_issue(run: DbtRun, shown: str) -> SpecIssue:
    """A failed dbt run as one issue: dbt's error text, located at the file it names."""
    lines = [_TIMESTAMP.sub("", line).rstrip() for line in run.output.splitlines()]
    start = next((i for i, line in enumerate(lines) if "Error" in line), 0)
    message = " ".join(line.strip() for line in lines[start:start + 8] if line.strip())
    found = _FILE.search(message)
    file = f"{shown}/{found['path']}" if found else f"{shown}/dbt_project.yml"
    return SpecIssue(file, None, "", f"dbt {' '.join(run.args)} failed: {message[:600]}",
                     hint="fix the dbt project; `dbt parse` shows the same error")
