"""Attach a dbt project to an assay project while it loads.

``ref()``/``source()`` tables become the relations dbt built; dbt metrics become assay metrics
(and metrics files may take a dbt metric's definition with ``dbt:``); experiments may name them
``dbt:revenue`` or ``revenue``. Every problem is a located issue: the dbt file and line where the
definition is, or the assay file that names something dbt does not have.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from assay.dbt.artifacts import Manifest, relation
from assay.dbt.semantic import DbtMetric, map_metrics
from assay.errors import AssayError, SpecError, SpecIssue
from assay.spec.errors import did_you_mean
from assay.spec.models import DbtSpec, ExposureSource, MetricRefs, MetricSpec, Source
from assay.spec.project import Project, Where, shown_path
from assay.spec.refs import parse_call
from assay.spec.yamlsrc import Loc, Located, load_yaml

PREFIX = "dbt:"
#: Analysis settings a metrics file may add to a dbt metric (the definition comes from dbt).
_OWN = ("window", "pre_window", "capping", "higher_is_better", "description")


@dataclass
class DbtContext:
    """The dbt project behind an assay project.

    Attributes:
        spec: ``dbt:`` from assay_project.yml.
        project_dir: The dbt project directory.
        manifest: Its manifest.
        tables: Relation (as assay writes it) -> the manifest unique id that built it.
        metric_nodes: Assay metric name -> the manifest unique ids its definition comes from.
        refused: dbt metric name -> why it cannot be mapped (located in the dbt file).
    """

    spec: DbtSpec
    project_dir: Path
    manifest: Manifest
    tables: dict[str, str] = field(default_factory=dict)
    metric_nodes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    refused: dict[str, SpecIssue] = field(default_factory=dict)


def attach_dbt(project: Project, issues: list[SpecIssue]) -> None:
    """Read the project's dbt artifacts into it (in place); problems go to ``issues``."""
    spec = project.spec.dbt
    if spec is None:
        issues += [project.where[("metric", n)].issue(("dbt",), "a `dbt:` metric needs a `dbt:` "
                   "section in assay_project.yml naming the dbt project")
                   for n, m in project.metrics.items() if m.dbt is not None]
        return
    project_dir = (project.root / spec.project_dir).resolve()
    manifest = _readable_manifest(project, project_dir, spec, issues)
    if manifest is None:
        # which metrics dbt defines is unknown: references to metrics are not checked
        project.metrics_unreadable = True
        return
    context = DbtContext(spec, project_dir, manifest)
    project.dbt = context
    _resolve_tables(project, context, issues)
    _import_metrics(project, context, issues)
    _rewrite_refs(project, context, issues)


def _readable_manifest(
    project: Project, project_dir: Path, spec: DbtSpec, issues: list[SpecIssue]
) -> Manifest | None:
    """The manifest, current with the project's files; None (and the issue) if there is none."""
    where = project.where[("project", "")]
    if not project_dir.is_dir():
        issues.append(where.issue(("dbt", "project_dir"), "no dbt project here",
                                  value=spec.project_dir))
        return None
    try:
        manifest = _manifest(project_dir, spec)
    except SpecError as err:
        issues += err.issues
        return None
    except AssayError as err:
        issues.append(where.issue(("dbt", "parse"), str(err)))
        return None
    stale = manifest.stale_files()
    if stale:
        issues.append(SpecIssue(shown_path(manifest.path), None, "", "the dbt manifest is "
                      f"stale: {', '.join(stale[:5])} changed since dbt wrote it",
                      hint="run `dbt parse` (or `dbt build`), or set `dbt.parse: true`"))
        return None
    return manifest


def _manifest(project_dir: Path, spec: DbtSpec) -> Manifest:
    from assay.dbt.runner import parse_project

    profiles = project_dir / spec.profiles_dir if spec.profiles_dir else None
    if spec.parse:
        parse_project(project_dir, profiles_dir=profiles, target=spec.target)
    path = project_dir / spec.manifest
    return Manifest.load(path, project_dir, shown_path(path))


def _resolve_tables(project: Project, context: DbtContext, issues: list[SpecIssue]) -> None:
    """``ref()``/``source()`` in sources, exposures and inline metric sources -> relations."""
    dialect = project.dialect
    for node in context.manifest.entries("nodes", "sources"):
        if node.get("resource_type") in ("model", "seed", "snapshot", "source"):
            context.tables[relation(node, dialect)] = str(node["unique_id"])
    where = project.where[("project", "")]
    sources = {}
    for name, source in project.spec.sources.items():
        sources[name] = _resolved(source, context, dialect, where, ("sources", name), issues)
    exposures = _resolved(project.spec.exposures, context, dialect, where, ("exposures",),
                          issues)
    project.spec = project.spec.model_copy(update={"sources": sources, "exposures": exposures})
    for name, metric in list(project.metrics.items()):
        if isinstance(metric.source, Source):
            loc: Loc = ("source",)
            resolved = _resolved(metric.source, context, dialect, project.where[("metric", name)],
                                 loc, issues)
            project.metrics[name] = metric.model_copy(update={"source": resolved})


def _resolved(
    source: Source | ExposureSource, context: DbtContext, dialect: str, where: Where, loc: Loc,
    issues: list[SpecIssue],
) -> Any:
    call = parse_call(source.table) if source.table else None
    if call is None:
        return source
    found = context.manifest.resolve(call)
    if isinstance(found, str):
        issues.append(where.issue((*loc, "table"), f"{found} in "
                                  f"{shown_path(context.manifest.path)}", value=source.table))
        return source
    return source.model_copy(update={"table": relation(found, dialect)})


def _import_metrics(project: Project, context: DbtContext, issues: list[SpecIssue]) -> None:
    manifest, dialect = context.manifest, project.dialect
    relations = {str(n["unique_id"]): relation(n, dialect) for n in manifest.entries("nodes")
                 if n.get("resource_type") in ("model", "seed", "snapshot")}
    files = _Files(context.project_dir)
    mapping = map_metrics(list(manifest.entries("metrics")),
                          list(manifest.entries("semantic_models")), context.spec, relations,
                          files.locate)
    context.refused = mapping.refused
    for name, dbt_metric in mapping.metrics.items():
        mine = project.metrics.get(name)
        if mine is not None and mine.dbt is None:
            first = project.where[("metric", name)]
            issues.append(first.issue(("name",), f"metric `{name}` is also a dbt metric",
                          hint=f"defined in {dbt_metric.where.src.file}:"
                               f"{dbt_metric.where.src.line(dbt_metric.where.loc)}; rename one, "
                               f"or write `dbt: {name}` to take dbt's definition"))
            continue
        if mine is None:
            _add(project, context, name, dbt_metric, {}, dbt_metric.where, issues)
    for name, metric in list(project.metrics.items()):
        if metric.dbt is not None and metric.source is None and metric.numerator is None:
            _merge(project, context, name, metric, mapping.metrics, issues)


def _merge(
    project: Project, context: DbtContext, name: str, metric: MetricSpec,
    mapped: dict[str, DbtMetric], issues: list[SpecIssue],
) -> None:
    """A metrics-file metric with ``dbt: X``: X's definition plus this file's settings."""
    where = project.where[("metric", name)]
    target = mapped.get(str(metric.dbt))
    if target is None:
        del project.metrics[name]
        project.broken.add(name)
        refused = context.refused.get(str(metric.dbt))
        issues.append(refused if refused is not None else where.issue(
            ("dbt",), f"no dbt metric `{metric.dbt}`",
            hint=did_you_mean(str(metric.dbt), sorted(mapped)) or "see `assay dbt metrics`"))
        return
    own = {k: getattr(metric, k) for k in _OWN if k in metric.model_fields_set}
    _add(project, context, name, target, own, where, issues)


def _add(
    project: Project, context: DbtContext, name: str, dbt_metric: DbtMetric,
    own: dict[str, Any], where: Where, issues: list[SpecIssue],
) -> None:
    fields = {**dbt_metric.fields, **own, "name": name, "dbt": dbt_metric.name}
    try:
        project.metrics[name] = MetricSpec.model_validate(fields)
    except ValidationError as err:
        project.broken.add(name)
        issues.append(where.issue((), f"dbt metric `{dbt_metric.name}` does not map to an assay "
                                      f"metric: {err.errors()[0]['msg']}"))
        return
    project.where[("metric", name)] = where
    context.metric_nodes[name] = dbt_metric.nodes


def _rewrite_refs(project: Project, context: DbtContext, issues: list[SpecIssue]) -> None:
    """``dbt:revenue`` -> ``revenue`` in experiments; refused dbt metrics reported where used."""
    reported: set[str] = set()
    for exp_id, experiment in list(project.experiments.items()):
        where = project.where[("experiment", exp_id)]
        update: dict[str, Any] = {}
        for loc, names in _ref_lists(experiment.metrics.model_dump(), experiment):
            new = [_ref(project, context, where, (*loc, i), ref, issues, reported)
                   for i, ref in enumerate(names)]
            if new != names:
                update[str(loc[-1])] = new
        metric_update = {k: v for k, v in update.items() if k in MetricRefs.model_fields}
        method_update = {k: v for k, v in update.items() if k not in MetricRefs.model_fields}
        if metric_update:
            method_update["metrics"] = experiment.metrics.model_copy(update=metric_update)
        if method_update:
            project.experiments[exp_id] = experiment.model_copy(update=method_update)


def _ref_lists(roles: dict[str, list[str]], experiment: Any) -> Iterator[tuple[Loc, list[str]]]:
    for role, names in roles.items():
        yield ("metrics", role), list(names)
    yield ("bootstrap",), list(experiment.bootstrap)
    yield ("rank_tests",), list(experiment.rank_tests)


def _ref(
    project: Project, context: DbtContext, where: Where, loc: Loc, ref: str,
    issues: list[SpecIssue], reported: set[str],
) -> str:
    name = ref.removeprefix(PREFIX)
    if ref.startswith(PREFIX) and name not in context.metric_nodes and (
            name not in context.refused):
        issues.append(where.issue(loc, f"no dbt metric `{name}`", hint=did_you_mean(
            name, sorted(n for n in context.metric_nodes if "__" not in n))))
        project.broken.add(name)
    elif name in context.refused and name not in project.metrics:
        if name not in reported:
            reported.add(name)
            issue = context.refused[name]
            used = f"used by {where.src.file}:{where.src.line(loc)}"
            issues.append(SpecIssue(issue.file, issue.line, issue.field, issue.message,
                                    hint=f"{issue.hint}; {used}" if issue.hint else used))
        project.broken.add(name)
    return name


class _Files:
    """dbt YAML files, read once each with the line of every key."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir
        self.read: dict[str, Located] = {}

    def locate(self, file: str, section: Loc, name: str) -> Where:
        """Where the entry ``name`` of list ``section`` is defined in ``file``."""
        if file not in self.read:
            path = self.project_dir / file
            self.read[file] = load_yaml(path, shown_path(path))
        src = self.read[file]
        entries = src.data.get(section[0]) if isinstance(src.data, dict) else None
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict) and entry.get("name") == name:
                return Where(src, (*section, i))
        return Where(src, ())
