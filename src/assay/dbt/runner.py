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
_LINE = re.compile(r"\bline (?P<line>\d+)")
_ENTRY = re.compile(r"\b(?:semantic model|metric|model) `?(?P<name>\w+)`?")
_PREAMBLE = ("Running with dbt", "Registered adapter", "Encountered an error",
             "Unable to do partial")
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
    project_dir = project_dir.resolve()
    command = [dbt_executable(), "--no-use-colors", *args,
               "--project-dir", str(project_dir),
               "--profiles-dir", str((profiles_dir or project_dir).resolve())]
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
    project_dir: Path, *, profiles_dir: Path | None = None, target: str | None = None
) -> None:
    """``dbt parse``; a project that does not parse is a :class:`SpecError` naming dbt's file.

    Args:
        project_dir: The dbt project.
        profiles_dir: Where profiles.yml is (default: the project).
        target: The dbt target.
    """
    run = run_dbt(["parse"], project_dir, profiles_dir=profiles_dir, target=target)
    if not run.ok:
        raise SpecError([failure_issue(run, project_dir)])


def failure_issue(run: DbtRun, project_dir: Path) -> SpecIssue:
    """A failed dbt run as one issue: dbt's error text, located at the file (and line) it names,
    or at the YAML entry of the semantic model or metric it names."""
    from assay.spec.project import shown_path

    lines = [_TIMESTAMP.sub("", line).strip() for line in run.output.splitlines()]
    lines = [line for line in lines if line and not line.startswith(_PREAMBLE)]
    message = " ".join(lines[:10])
    file, line = _located(message, project_dir)
    return SpecIssue(shown_path(file), line, "",
                     f"dbt {' '.join(run.args)} failed: {message[:700]}",
                     hint="fix the dbt project; dbt itself reports the same error")


def _located(message: str, project_dir: Path) -> tuple[Path, int | None]:
    from assay.spec.yamlsrc import load_yaml

    number = _LINE.search(message)
    line = int(number["line"]) if number else None
    found = _FILE.search(message)
    if found is not None:
        named = found["path"].replace("\\", "/")
        direct = project_dir / named
        if direct.is_file():
            return direct, line
        for candidate in _project_files(project_dir, "*" + Path(named).suffix):
            if candidate.as_posix().endswith("/" + named):
                return candidate, line
    entry = _ENTRY.search(message)
    if entry is not None:
        for candidate in _project_files(project_dir, "*.yml"):
            src = load_yaml(candidate)
            for section in ("semantic_models", "metrics", "models", "sources"):
                items = src.data.get(section) if isinstance(src.data, dict) else None
                for i, item in enumerate(items if isinstance(items, list) else []):
                    if isinstance(item, dict) and item.get("name") == entry["name"]:
                        return candidate, src.line((section, i))
    return project_dir / "dbt_project.yml", None


def _project_files(project_dir: Path, pattern: str) -> list[Path]:
    skip = {"target", "dbt_packages", "logs", ".venv"}
    return sorted(p for p in project_dir.rglob(pattern)
                  if not skip & set(p.relative_to(project_dir).parts))
