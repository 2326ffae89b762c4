"""Checks on the exposure log: sample ratio, dedup, units in several arms, dates, stray variants."""

from __future__ import annotations

from dataclasses import dataclass

from assay.checks.wording import p_is
from assay.results import Check, Status
from assay.spec.models import ExperimentSpec
from assay.stats.srm import srm_test

# An SRM p-value below this fails the experiment: the industry's conventional bar (Kohavi,
# Tang, Xu, "Trustworthy Online Controlled Experiments", 2020, ch. 21), strict because the
# check runs on every analysis and a false alarm stops a decision.
SRM_FAIL_P = 0.001
MULTI_VARIANT_FAIL_SHARE = 0.01


@dataclass(frozen=True)
class ExposureCounts:
    """What the exposure queries returned.

    Attributes:
        units: Variant -> units whose exposures (in the dates) all name that variant.
        exposure_rows: Variant -> exposure rows of those units.
        multi_variant_units: Units seen in more than one variant (excluded).
        multi_variant_rows: Their exposure rows.
        rows: Exposure rows of the experiment in all.
        null_unit_rows: Rows without a unit id (excluded).
        outside_rows: Rows outside the experiment's dates (excluded).
        null_variant_units: Units whose exposures (in the dates) all have a NULL variant
            (excluded; not units in several variants).
        null_variant_rows: Their exposure rows.
    """

    units: dict[str, int]
    exposure_rows: dict[str, int]
    multi_variant_units: int
    multi_variant_rows: int
    rows: int
    null_unit_rows: int
    outside_rows: int
    null_variant_units: int = 0
    null_variant_rows: int = 0


def exposure_checks(counts: ExposureCounts, experiment: ExperimentSpec) -> list[Check]:
    """Every exposure-log check, in report order."""
    return [
        _exposures_present(counts),
        _srm(counts, experiment),
        _empty_arms(counts, experiment),
        _undeclared(counts, experiment),
        _multi_variant(counts),
        _duplicates(counts),
        _outside_dates(counts),
        _null_units(counts),
        _null_variants(counts),
    ]


def _declared_units(counts: ExposureCounts, experiment: ExperimentSpec) -> dict[str, int]:
    return {v.name: counts.units.get(v.name, 0) for v in experiment.variants}


def _exposures_present(counts: ExposureCounts) -> Check:
    if counts.rows == 0:
        return Check(
            "exposures",
            "fail",
            "no exposures logged for this experiment; check the "
            "experiment id and the exposure table in assay_project.yml",
            {"rows": 0},
        )
    return Check("exposures", "pass", f"{counts.rows:,} exposure rows", {"rows": counts.rows})


def _srm(counts: ExposureCounts, experiment: ExperimentSpec) -> Check:
    units = _declared_units(counts, experiment)
    weights = experiment.weights()
    observed = [units[v] for v in weights]
    if sum(observed) == 0:
        return Check("srm", "fail", "no units to test the sample ratio on", {})
    result = srm_test(observed, list(weights.values()))
    total = sum(observed)
    shares = {v: round(units[v] / total, 5) for v in weights}
    figures = {
        "p_value": result.p_value,
        "chi2": result.statistic,
        "df": result.df,
        "observed_shares": shares,
        "expected_shares": {k: round(w, 5) for k, w in weights.items()},
    }
    if result.p_value < SRM_FAIL_P:
        return Check(
            "srm",
            "fail",
            f"sample ratio mismatch ({p_is(result.p_value)}, below "
            f"{SRM_FAIL_P}): observed {_shares(shares)} vs intended "
            f"{_shares(weights)}; the assignment or the exposure logging is biased, so "
            "metric results cannot be trusted",
            figures,
        )
    return Check(
        "srm", "pass", f"traffic split matches the design (p = {result.p_value:.3g})", figures
    )


def _empty_arms(counts: ExposureCounts, experiment: ExperimentSpec) -> Check:
    empty = [v for v, n in _declared_units(counts, experiment).items() if n == 0]
    if empty:
        return Check("empty_arms", "fail", f"no units in {', '.join(empty)}", {"empty": empty})
    return Check("empty_arms", "pass", "every arm has units", {})


def _undeclared(counts: ExposureCounts, experiment: ExperimentSpec) -> Check:
    declared = {v.name for v in experiment.variants}
    stray = {v: n for v, n in counts.units.items() if v not in declared}
    if stray:
        listed = ", ".join(f"`{v}` ({n:,} units)" for v, n in sorted(stray.items()))
        return Check(
            "undeclared_variants",
            "warn",
            f"variants in the data but not in the spec were left out: {listed}",
            {"units": stray},
        )
    return Check("undeclared_variants", "pass", "every logged variant is declared", {})


def _multi_variant(counts: ExposureCounts) -> Check:
    total = sum(counts.units.values()) + counts.multi_variant_units
    share = counts.multi_variant_units / total if total else 0.0
    figures = {"units": counts.multi_variant_units, "share": share}
    if counts.multi_variant_units == 0:
        return Check(
            "multiple_variants", "pass", "no unit was exposed to more than one variant", figures
        )
    status: Status = "fail" if share > MULTI_VARIANT_FAIL_SHARE else "warn"
    return Check(
        "multiple_variants",
        status,
        f"{counts.multi_variant_units:,} units "
        f"({share:.2%}) were exposed to more than one variant and were excluded",
        figures,
    )


def _duplicates(counts: ExposureCounts) -> Check:
    units = sum(counts.units.values()) + counts.multi_variant_units
    rows = sum(counts.exposure_rows.values()) + counts.multi_variant_rows
    duplicates = rows - units
    figures = {"duplicate_rows": duplicates, "rows_per_unit": rows / units if units else None}
    if duplicates == 0:
        return Check("duplicate_exposures", "pass", "one exposure row per unit", figures)
    return Check(
        "duplicate_exposures",
        "pass",
        f"{duplicates:,} repeated exposure rows; each unit's first exposure is used",
        figures,
    )


def _outside_dates(counts: ExposureCounts) -> Check:
    figures = {"rows": counts.outside_rows}
    if counts.outside_rows:
        return Check(
            "exposure_dates",
            "warn",
            f"{counts.outside_rows:,} exposure rows fall "
            "outside the experiment's start/end and were excluded",
            figures,
        )
    return Check(
        "exposure_dates", "pass", "all exposures fall within the experiment's dates", figures
    )


def _null_units(counts: ExposureCounts) -> Check:
    figures = {"rows": counts.null_unit_rows}
    if counts.null_unit_rows:
        return Check(
            "missing_unit_ids",
            "warn",
            f"{counts.null_unit_rows:,} exposure rows have no unit id and were excluded",
            figures,
        )
    return Check("missing_unit_ids", "pass", "every exposure has a unit id", figures)


def _null_variants(counts: ExposureCounts) -> Check:
    figures = {"units": counts.null_variant_units, "rows": counts.null_variant_rows}
    if counts.null_variant_units:
        return Check(
            "missing_variants",
            "warn",
            f"{counts.null_variant_units:,} units were logged without a variant (NULL in "
            f"{counts.null_variant_rows:,} exposure rows) and were excluded",
            figures,
            remedy="check that the exposure logger records the variant it served",
        )
    return Check("missing_variants", "pass", "every analysed exposure names a variant", figures)


def _shares(shares: dict[str, float]) -> str:
    return "/".join(f"{100 * s:.1f}%" for s in shares.values())
