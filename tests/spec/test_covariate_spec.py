"""``covariates:`` specs: what they need, what they refuse, each error located (file:line)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.metrics.covariates_data import EXPERIMENT, METRICS, PROJECT

from assay.errors import SpecError
from assay.spec import load_project


def _issues(root: Path, metrics: str, experiment: str = EXPERIMENT) -> list[str]:
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "experiments").mkdir(exist_ok=True)
    (root / "assay_project.yml").write_text(PROJECT, encoding="utf-8")
    (root / "metrics" / "m.yml").write_text(metrics, encoding="utf-8")
    (root / "experiments" / "exp.yml").write_text(experiment, encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_project(root)
    return [i.format() for i in err.value.issues]


def _line(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("      - sessions\n", "      - sesions\n"),
         "covariates[0].metric: unknown metric `sesions`"),
        (("      - sessions\n", "      - {metric: converted}\n"),
         "covariates[0].metric: `converted` has no `pre_window`"),
        (("source: predictions}\n  - name: sessions", "source: predictons}\n  - name: sessions"),
         "covariates[3].source: unknown source `predictons`"),
        (("      - sessions\n", "      - {prediction: score}\n"), "needs `source`"),
        (("      - sessions\n", "      - {metric: sessions, attribute: plan}\n"),
         "exactly one of `metric`, `attribute` or `prediction`"),
        (("      - sessions\n", "      - {metric: sessions, window: [0d, 7d]}\n"),
         "must end at or before the first exposure"),
        (("levels: [free, pro, team]", "levels: [free, free]"), "`levels` must be distinct"),
        (("levels: [free, pro, team]", "levels: [free]"), "at least 2"),
        (("      - {attribute: tenure_days}\n", "      - {attribute: tenure days}\n"),
         "covariates[1].attribute"),
    ],
)
def test_bad_covariates_are_located(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    assert edit[0] in METRICS
    metrics = METRICS.replace(edit[0], edit[1], 1)
    issues = _issues(tmp_path, metrics)
    line = _line(metrics, edit[1].strip().split("\n")[0])
    assert any(f"metrics/m.yml:{line}" in i and message in i for i in issues), (line, issues)


def test_a_ratio_metric_takes_no_covariates(tmp_path: Path) -> None:
    metrics = METRICS + ("  - name: aov\n    kind: ratio\n    numerator: revenue\n"
                         "    denominator: converted\n    covariates: [sessions]\n")
    issues = _issues(tmp_path, metrics)
    line = metrics.count("\n")  # the last line
    assert any(f"m.yml:{line}: metrics[5].covariates: a ratio metric takes no covariates" in i
               for i in issues), issues


def test_experiment_covariates_are_checked_too(tmp_path: Path) -> None:
    experiment = EXPERIMENT + "covariates:\n  - {metric: revenu}\n"
    issues = _issues(tmp_path, METRICS, experiment)
    line = experiment.count("\n")
    assert any(f"experiments/exp.yml:{line}: covariates[0].metric: unknown metric `revenu`" in i
               and "did you mean `revenue`" in i for i in issues), issues


def test_a_covariate_column_missing_from_its_table_is_located(tmp_path: Path) -> None:
    from tests.metrics.covariates_data import build_shop, write_project

    from assay.analysis import analyze
    from assay.warehouse.duckdb import DuckDBWarehouse

    metrics = METRICS.replace("{attribute: tenure_days}", "{attribute: tenure_dayz}").replace(
        "{prediction: predicted_revenue, source: predictions}\n  - name: sessions",
        "{prediction: predicted_revenu, source: predictions}\n  - name: sessions")
    project = load_project(write_project(tmp_path, metrics))
    shop = build_shop(n_units=200)
    wh = DuckDBWarehouse(":memory:")
    for name in ("exposures", "orders", "sessions", "predictions"):
        wh.write_table(name, getattr(shop, name), mode="replace")
    with pytest.raises(SpecError) as err:
        analyze(project, "exp", warehouse=wh)
    issues = [i.format() for i in err.value.issues]
    assert any(f"shop.yml:{_line(metrics, 'tenure_dayz')}: metrics[0].covariates[1].attribute: "
               "column `tenure_dayz` is not in `exposures`" in i and "tenure_days" in i
               for i in issues), issues
    assert any("covariates[3].prediction: column `predicted_revenu` is not in `predictions`"
               in i and "did you mean `predicted_revenue`" in i for i in issues), issues


def test_validate_reports_covariate_columns_of_every_metric(tmp_path: Path) -> None:
    """`assay validate` checks the covariate columns too (not only `assay analyze`), with the
    other table problems, for metrics no experiment uses as well."""
    from tests.metrics.covariates_data import build_shop, write_project
    from typer.testing import CliRunner

    from assay.cli import app
    from assay.warehouse.duckdb import DuckDBWarehouse

    metrics = METRICS.replace("{attribute: tenure_days}", "{attribute: tenure_dayz}") + (
        "  - name: unused\n    source: orders\n    value: amount\n    window: [0d, 7d]\n"
        "    covariates: [{attribute: signup_channel}]\n")
    root = write_project(tmp_path, metrics)
    shop = build_shop(n_units=200)
    wh = DuckDBWarehouse(root / "warehouse.duckdb")
    for name in ("exposures", "orders", "sessions", "predictions"):
        wh.write_table(name, getattr(shop, name), mode="replace")
    wh.close()
    done = CliRunner().invoke(app, ["validate", "-p", str(root)])
    assert done.exit_code == 2, done.output
    assert (f"shop.yml:{_line(metrics, 'tenure_dayz')}: metrics[0].covariates[1].attribute: "
            "column `tenure_dayz` is not in `exposures`") in done.output
    assert "covariates[0].attribute: column `signup_channel` is not in `exposures`" in \
        done.output


def test_an_experiment_that_fails_to_load_still_has_its_metric_names_checked(
    tmp_path: Path,
) -> None:
    """Every problem at once: a malformed covariate does not hide an unknown metric beside it,
    nor one under `metrics:`."""
    experiment = EXPERIMENT.replace("secondary: [converted]", "secondary: [convrted]") + (
        "covariates:\n  - sesions\n  - {attribute: \"bad col\"}\n")
    issues = _issues(tmp_path, METRICS, experiment)
    at = {needle: _line(experiment, needle) for needle in ("convrted", "sesions", "bad col")}
    assert any(f"exp.yml:{at['bad col']}: covariates[1].attribute" in i for i in issues), issues
    assert any(f"exp.yml:{at['sesions']}: covariates[0].metric: unknown metric `sesions`" in i
               and "did you mean `sessions`" in i for i in issues), issues
    assert any(f"exp.yml:{at['convrted']}: metrics.secondary[0]: unknown metric `convrted`"
               in i and "did you mean `converted`" in i for i in issues), issues
