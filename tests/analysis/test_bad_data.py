"""Bad data gets a defined outcome: a located error before any data query, or a result whose
affected figures carry an error code while the rest of the report stands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from tests.analysis.oracle import analysed_units
from tests.analysis.shop import ODD_IDS, Shop, build_shop, write_project

from assay.analysis import analyze
from assay.errors import SpecError
from assay.report import decide
from assay.warehouse.duckdb import DuckDBWarehouse


def _check(result, name):  # type: ignore[no-untyped-def]
    return next(c for c in result.checks if c.name == name)


@pytest.fixture(params=[True, False], ids=["segmented", "plain"])
def project(tmp_path: Path, shop: Shop, request: pytest.FixtureRequest) -> Path:
    """The shop project; with and without segments (the two query shapes of the compiler)."""
    return write_project(tmp_path, shop, segments=request.param)


def test_missing_table_is_a_located_spec_error(project: Path) -> None:
    wh = DuckDBWarehouse(project / "warehouse.duckdb")
    wh.execute("DROP TABLE sessions")
    wh.close()
    with pytest.raises(SpecError) as err:
        analyze(project, "exp")
    [issue] = err.value.issues
    assert issue.file.endswith("assay_project.yml") and issue.line == 9
    assert issue.field == "sources.sessions.table" and "does not exist" in issue.message


def test_unknown_column_in_a_value_suggests_the_real_one(project: Path) -> None:
    metrics = project / "metrics" / "shop.yml"
    metrics.write_text(metrics.read_text().replace("value: duration_s", "value: duraton_s"))
    with pytest.raises(SpecError) as err:
        analyze(project, "exp")
    [issue] = err.value.issues
    assert issue.field == "metrics[5].value" and issue.line == 30
    assert issue.hint == "did you mean `duration_s`?"


def test_unknown_exposure_column_is_located_in_the_project_file(project: Path) -> None:
    text = (project / "assay_project.yml").read_text().replace("unit_id: user_id", "unit_id: uid")
    (project / "assay_project.yml").write_text(text)
    with pytest.raises(SpecError) as err:
        analyze(project, "exp")
    assert any(i.field == "exposures.unit_id" and "`uid`" in i.message for i in err.value.issues)


def test_experiment_with_no_exposures_fails_checks_and_keeps_going(project: Path) -> None:
    (project / "experiments" / "exp.yml").rename(project / "experiments" / "never_ran.yml")
    result = analyze(project, "never_ran")
    assert _check(result, "exposures").status == "fail"
    assert all(r.error == "zero_units" for r in result.results)
    assert decide(result).verdict == "untrustworthy"
    assert result.units == 0


def test_an_arm_with_no_units_marks_its_results_and_the_others_stand(tmp_path: Path) -> None:
    shop = build_shop(n_units=600, variants=("control", "treatment", "empty"))
    exposures = shop.exposures.filter(pa.compute.not_equal(shop.exposures["variant"], "empty"))
    project = write_project(
        tmp_path,
        Shop(exposures, shop.orders, shop.sessions),
        variants=("control", "treatment", "empty"),
    )
    result = analyze(project, "exp")
    assert _check(result, "empty_arms").status == "fail"
    assert {r.error for r in result.results if r.variant == "empty"} == {"zero_units"}
    assert all(r.error is None for r in result.results if r.variant == "treatment")


def test_zero_variance_metric_gets_a_code_and_the_rest_stand(project: Path) -> None:
    wh = DuckDBWarehouse(project / "warehouse.duckdb")
    wh.execute("UPDATE sessions SET duration_s = 42.0")
    wh.close()
    result = analyze(project, "exp")
    session = next(r for r in result.results if r.metric == "session_length")
    assert session.error == "zero_variance"
    assert next(r for r in result.results if r.metric == "revenue").error is None
    assert _check(result, "metric_errors").status == "warn"


def test_duplicate_exposures_use_the_first_and_are_reported(project: Path, shop: Shop) -> None:
    result = analyze(project, "exp")
    check = _check(result, "duplicate_exposures")
    rows = shop.exposures.to_pandas()
    rows = rows[
        (rows.experiment_id == "exp")
        & rows.user_id.notna()
        & (rows.exposed_at < dt.datetime(2026, 1, 20))
    ]
    assert check.figures["duplicate_rows"] == len(rows) - rows.user_id.nunique()


def test_units_in_two_variants_are_excluded_and_counted(project: Path) -> None:
    result = analyze(project, "exp")
    check = _check(result, "multiple_variants")
    assert check.status == "warn" and check.figures["units"] == 10


def test_undeclared_variant_is_left_out_and_reported(project: Path) -> None:
    result = analyze(project, "exp")
    check = _check(result, "undeclared_variants")
    assert check.status == "warn" and check.figures["units"] == {"ghost": 4}
    assert {a.variant for a in result.arms} == {"control", "treatment"}


def test_exposures_outside_dates_and_without_ids_are_counted(project: Path) -> None:
    result = analyze(project, "exp")
    assert _check(result, "exposure_dates").figures["rows"] == 5
    assert _check(result, "missing_unit_ids").figures["rows"] == 3


def test_non_ascii_quoted_and_very_long_ids_are_analysed(project: Path, shop: Shop) -> None:
    units = analysed_units(shop, ("control", "treatment"))
    assert set(ODD_IDS) <= set(units.index)
    result = analyze(project, "exp")
    assert result.units == len(units)


def test_sample_ratio_mismatch_fails_and_the_decision_says_untrustworthy(
    tmp_path: Path, shop: Shop
) -> None:
    e = shop.exposures.to_pandas()
    control = e[e.variant == "control"]
    dropped = control.sample(frac=0.15, random_state=3).index
    project = write_project(
        tmp_path,
        Shop(
            pa.Table.from_pandas(e.drop(dropped), preserve_index=False), shop.orders, shop.sessions
        ),
    )
    result = analyze(project, "exp")
    assert _check(result, "srm").status == "fail"
    assert decide(result).verdict == "untrustworthy"


def test_planned_sample_size_not_reached_warns_about_peeking(project: Path) -> None:
    spec = project / "experiments" / "exp.yml"
    spec.write_text(spec.read_text() + "planned_sample_size: 100000\n")
    check = _check(analyze(project, "exp"), "sample_size")
    assert check.status == "warn" and "peeking" in check.message
