"""Load a project folder: ``assay_project.yml``, ``metrics/*.yml``, ``experiments/*.yml``.

Every file is read and every problem collected before anything is raised, so a user fixes a
project in one pass: each issue names its file, line and field, with a hint where one exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from assay.errors import AssayError, SpecError, SpecIssue
from assay.spec.errors import issues_from_validation, unknown_name
from assay.spec.models import ExperimentSpec, MetricSpec, ProjectSpec, Source
from assay.spec.yamlsrc import Loc, Located, load_yaml
from assay.warehouse import Warehouse, connect, dialect_of

if TYPE_CHECKING:
    from assay.dbt.context import DbtContext

PROJECT_FILE = "assay_project.yml"
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Where:
    """Where a spec object was defined: its file's parsed form and its location inside it."""

    src: Located
    loc: Loc

    def issue(self, sub: Loc, message: str, **kwargs: object) -> SpecIssue:
        """A located issue at ``loc + sub``."""
        return self.src.issue((*self.loc, *sub), message, **kwargs)  # type: ignore[arg-type]


@dataclass
class Project:
    """A loaded, validated project.

    Attributes:
        root: The project directory.
        spec: ``assay_project.yml``.
        metrics: Metric name -> definition.
        experiments: Experiment id -> definition.
        where: ``("metric", name)`` / ``("experiment", id)`` / ``("project", "")`` -> location.
        warnings: Issues of severity ``warning`` (the project still runs).
        broken: Names of metrics whose definitions failed to load (already reported, so
            references to them are not reported again).
        metrics_unreadable: A metrics file could not be parsed, so which metrics exist is
            unknown and references to metrics are not checked.
        dbt: The dbt project the metrics and ``ref()`` tables come from, if any.
        unloaded: Experiment files that failed to validate (already reported), each with its
            raw mapping: their metric references are still checked, so that every problem is
            reported at once.
    """

    root: Path
    spec: ProjectSpec
    metrics: dict[str, MetricSpec] = field(default_factory=dict)
    experiments: dict[str, ExperimentSpec] = field(default_factory=dict)
    where: dict[tuple[str, str], Where] = field(default_factory=dict)
    warnings: list[SpecIssue] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)
    metrics_unreadable: bool = False
    dbt: DbtContext | None = None
    unloaded: list[tuple[Where, dict[str, Any]]] = field(default_factory=list)

    @property
    def dialect(self) -> str:
        """SQLGlot dialect of the project's warehouse."""
        return dialect_of(self.spec.warehouse)

    def warehouse(self, *, read_only: bool = False) -> Warehouse:
        """Open the project's warehouse (relative DuckDB paths resolve against ``root``)."""
        return connect(self.spec.warehouse, base_dir=self.root, read_only=read_only)

    def source_of(self, metric: MetricSpec) -> Source:
        """The resolved source of a mean or proportion metric."""
        if isinstance(metric.source, Source):
            return metric.source
        if metric.source is None:
            raise ValueError(f"metric {metric.name} has no source of its own")
        return self.spec.sources[metric.source]

    def experiment(self, experiment_id: str) -> ExperimentSpec:
        """The experiment with this id; a :class:`SpecError` with a hint if there is none."""
        if experiment_id not in self.experiments:
            raise unknown_name(
                str(self.root / "experiments"), "experiment", experiment_id, list(self.experiments)
            )
        return self.experiments[experiment_id]


def load_project(path: str | Path = ".") -> Project:
    """Load and validate the project in ``path``.

    Raises:
        SpecError: With every error found, each located by file, line and field.
    """
    project, issues = read_project(path)
    errors = [i for i in issues if i.severity == "error"]
    if errors or project is None:
        raise SpecError(errors)
    return project


def read_project(path: str | Path = ".") -> tuple[Project | None, list[SpecIssue]]:
    """Read the project in ``path`` as far as it loads, and every issue found on the way.

    Returns:
        The project holding every definition that loaded (None if ``assay_project.yml`` itself
        did not), with its ``warnings`` set; and every issue, errors and warnings. A caller
        that checks further (``assay validate``'s catalogue look-ups) can then report its own
        findings together with these, so a user fixes a project in one pass.
    """
    from assay.spec.validate import validate_project

    root = Path(path).resolve()
    issues: list[SpecIssue] = []
    project_file = root / PROJECT_FILE
    if not project_file.is_file():
        return None, [
            SpecIssue(
                str(project_file),
                None,
                "",
                f"no {PROJECT_FILE} here; run `assay init` to create a project, "
                "or pass --project DIR",
            )
        ]
    src = load_yaml(project_file, shown_path(project_file))
    if src.issues:  # unreadable: "expected a mapping" on top would only repeat it, unlocated
        return None, src.issues
    spec = _validate(ProjectSpec, src, (), src.data, issues)
    spec = spec and _connectable(spec, src, issues)
    if spec is None:
        return None, issues
    project = Project(root=root, spec=spec)
    project.where[("project", "")] = Where(src, ())

    for file in _yaml_files(root / "metrics", issues):
        _load_metrics(project, file, issues)
    for file in _yaml_files(root / "experiments", issues):
        _load_experiment(project, file, issues)

    if spec.dbt is not None or any(m.dbt is not None for m in project.metrics.values()):
        from assay.dbt.context import attach_dbt

        attach_dbt(project, issues)
    issues += validate_project(project)
    project.warnings = [i for i in issues if i.severity != "error"]
    return project, issues


def _connectable(spec: ProjectSpec, src: Located, issues: list[SpecIssue]
                 ) -> ProjectSpec | None:
    """``spec`` with ``${ENV_VAR}`` expanded in ``warehouse`` (the values are remembered as
    secrets, so never shown), or None with a located issue if the URL cannot be used."""
    from assay.secrets import MissingVariableError, interpolate

    try:
        url = interpolate(spec.warehouse)
        dialect_of(url)
    except (MissingVariableError, AssayError) as err:
        issues.append(src.issue(("warehouse",), str(err)))
        return None
    return spec.model_copy(update={"warehouse": url})


def _load_metrics(project: Project, file: Path, issues: list[SpecIssue]) -> None:
    src = load_yaml(file, shown_path(file))
    issues += src.issues
    if src.issues:
        project.metrics_unreadable = True
        return
    if not isinstance(src.data, dict) or not isinstance(src.data.get("metrics"), list):
        issues.append(
            src.issue((), "a metrics file holds `metrics:`, a list of metric definitions")
        )
        return
    extra = sorted(set(src.data) - {"metrics"})
    if extra:
        issues.append(
            src.issue(
                (extra[0],),
                f"unknown top-level key `{extra[0]}`",
                hint="a metrics file holds only `metrics:`",
            )
        )
    for i, raw in enumerate(src.data["metrics"]):
        metric = _validate(MetricSpec, src, ("metrics", i), raw, issues)
        if metric is None:
            if isinstance(raw, dict) and isinstance(raw.get("name"), str):
                project.broken.add(raw["name"])
            continue
        if metric.name in project.metrics:
            first = project.where[("metric", metric.name)]
            issues.append(
                src.issue(
                    ("metrics", i, "name"),
                    f"metric `{metric.name}` is defined twice",
                    hint=f"first defined in {first.src.file}:{first.src.line(first.loc)}",
                )
            )
            continue
        project.metrics[metric.name] = metric
        project.where[("metric", metric.name)] = Where(src, ("metrics", i))


def _load_experiment(project: Project, file: Path, issues: list[SpecIssue]) -> None:
    src = load_yaml(file, shown_path(file))
    issues += src.issues
    if src.issues:
        return
    if not isinstance(src.data, dict):
        issues.append(
            src.issue((), "an experiment file holds a mapping (id, variants, metrics ...)")
        )
        return
    data = dict(src.data)
    declared = data.pop("id", None)
    if declared is not None and str(declared) != file.stem:
        issues.append(
            src.issue(
                ("id",),
                "the experiment id is its file name",
                value=declared,
                hint=f"rename the file to {declared}.yml or remove `id`",
            )
        )
        return
    experiment = _validate(ExperimentSpec, src, (), {"id": file.stem, **data}, issues)
    if experiment is not None:
        project.experiments[experiment.id] = experiment
        project.where[("experiment", experiment.id)] = Where(src, ())
    else:
        project.unloaded.append((Where(src, ()), data))


def _validate(
    model: type[M], src: Located, loc: Loc, raw: object, issues: list[SpecIssue]
) -> M | None:
    if not isinstance(raw, dict):
        issues.append(src.issue(loc, f"expected a mapping for {model.__name__}", value=raw))
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        issues.extend(issues_from_validation(err, src, model, loc))
        return None


def _yaml_files(folder: Path, issues: list[SpecIssue]) -> Iterator[Path]:
    """The YAML files of ``folder``; a directory, a broken link or a file whose name another
    one shadows (``x.yml`` beside ``x.yaml``) is a located issue, never read or skipped."""
    if not folder.is_dir():
        return
    stems: dict[str, Path] = {}
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml")):
        if not path.is_file():
            what = "a broken symbolic link" if path.is_symlink() and not path.exists() \
                else "not a file"
            issues.append(SpecIssue(shown_path(path), None, "", f"{what}; a spec must be a YAML "
                                    "file (remove or rename it)"))
            continue
        if path.stem in stems:
            issues.append(SpecIssue(shown_path(path), None, "", f"{path.name} and "
                                    f"{stems[path.stem].name} define the same name; keep one"))
            continue
        stems[path.stem] = path
        yield path


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is under it (as errors show it)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
