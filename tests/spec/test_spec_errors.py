"""A malformed spec names its file, line and field, with a hint, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.analysis.shop import METRICS, PROJECT, experiment_yaml

from assay.errors import SpecError
from assay.spec import load_project


def _project(
    root: Path, *, project: str = PROJECT, metrics: str = METRICS, experiment: str | None = None
) -> Path:
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "experiments").mkdir(exist_ok=True)
    (root / "assay_project.yml").write_text(project, encoding="utf-8")
    (root / "metrics" / "shop.yml").write_text(metrics, encoding="utf-8")
    (root / "experiments" / "exp.yml").write_text(experiment or experiment_yaml(), encoding="utf-8")
    return root


def _issues(root: Path) -> list[str]:
    with pytest.raises(SpecError) as err:
        load_project(root)
    return [i.format() for i in err.value.issues]


def test_valid_project_loads(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path))
    assert set(project.metrics) >= {"revenue", "aov"} and "exp" in project.experiments


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    root = _project(tmp_path, metrics="metrics:\n  - name: a\n    window: [0d, 14d\n")
    [issue] = _issues(root)
    assert "metrics/shop.yml:4" in issue and "invalid YAML" in issue


def test_unknown_field_suggests_the_right_one(tmp_path: Path) -> None:
    root = _project(
        tmp_path, metrics=METRICS.replace("    window: [0d, 7d]", "    windw: [0d, 7d]")
    )
    issues = _issues(root)
    assert len(issues) == 1, issues  # the experiment naming the broken metric is not blamed
    assert any(
        "shop.yml:32: metrics[5].windw: unknown field `windw`; did you mean `window`?" in i
        for i in issues
    ), issues


def test_unknown_metric_in_experiment_suggests_a_name(tmp_path: Path) -> None:
    root = _project(
        tmp_path, experiment=experiment_yaml().replace("primary: [revenue]", "primary: [revenu]")
    )
    issues = _issues(root)
    assert any(
        "experiments/exp.yml:7: metrics.primary[0]: unknown metric `revenu`; did you "
        "mean `revenue`?" in i
        for i in issues
    ), issues


def test_sql_fragment_that_does_not_parse_is_located(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        metrics=METRICS.replace("value: amount\n    filter", "value: amount +\n    filter", 1),
    )
    issues = _issues(root)
    assert any("shop.yml:4: metrics[0].value: SQL does not parse" in i for i in issues), issues


def test_sql_statement_smuggled_into_a_filter_is_rejected(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        metrics=METRICS.replace(
            "filter: status <> 'cancelled'", 'filter: "1=1; DROP TABLE orders"', 1
        ),
    )
    issues = _issues(root)
    assert any("metrics[0].filter" in i and "one SQL expression" in i for i in issues), issues


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    experiment = (
        experiment_yaml()
        .replace("correction: holm", "correction: holmes")
        .replace("weight: 1}", "weight: -1}", 1)
    )
    root = _project(
        tmp_path,
        experiment=experiment,
        metrics=METRICS.replace("source: sessions", "source: sesions"),
    )
    issues = _issues(root)
    assert any("unknown source `sesions`; did you mean `sessions`?" in i for i in issues)
    assert any("correction" in i and "did you mean `holm`?" in i for i in issues)
    assert any("exp.yml:3: variants[1].weight" in i for i in issues), issues


def test_duplicate_metric_names_point_at_both_definitions(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "metrics" / "more.yml").write_text(
        "metrics:\n  - name: revenue\n    source: orders\n    value: amount\n", encoding="utf-8"
    )
    issues = _issues(root)
    assert any("more.yml:2" in i and "defined twice" in i and "shop.yml:2" in i for i in issues)


def test_duplicate_yaml_keys_are_errors_not_last_wins(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        metrics=METRICS.replace("  - name: revenue\n", "  - name: revenue\n    name: income\n", 1),
    )
    issues = _issues(root)
    assert any("shop.yml:3" in i and "duplicate key" in i for i in issues), issues


def test_missing_project_file_says_what_to_do(tmp_path: Path) -> None:
    [issue] = _issues(tmp_path)
    assert "assay_project.yml" in issue and "assay init" in issue


def test_experiment_id_must_match_file_name(tmp_path: Path) -> None:
    root = _project(tmp_path, experiment="id: other\n" + experiment_yaml())
    issues = _issues(root)
    assert any("exp.yml:1: id: the experiment id is its file name" in i for i in issues)


def test_cuped_without_pre_window_is_a_warning_not_an_error(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path))
    assert any("conversion" in w.message and "CUPED" in w.message for w in project.warnings)


def test_forced_variant_that_does_not_exist_is_located(tmp_path: Path) -> None:
    root = _project(tmp_path, experiment=experiment_yaml() + "forced: {u00001: treatmnt}\n")
    issues = _issues(root)
    assert any("experiments/exp.yml:" in i and "forced" in i and "treatmnt" in i
               for i in issues), issues
