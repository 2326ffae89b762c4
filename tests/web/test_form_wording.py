"""A refused decision from the dashboard's form names the form's fields and buttons, not
``assay decide``'s flags."""

from __future__ import annotations

import shutil
from pathlib import Path

from assay.spec.project import load_project
from assay.web.catalog import Catalog
from assay.web.writes import record_decision

_PROJECT = Path(__file__).parents[2] / "src" / "assay" / "demo" / "project"


def test_refusals_are_worded_for_the_form(tmp_path: Path) -> None:
    import duckdb

    root = Path(shutil.copytree(_PROJECT, tmp_path / "project"))
    duckdb.connect(str(root / "warehouse.duckdb")).close()  # an empty warehouse: no analysis
    catalog = Catalog(load_project(root))
    form = {"decision": "ship", "decided_by": "ana", "rationale": "it won", "variant": ""}
    refused = record_decision(catalog, "checkout_redesign", form)
    assert refused is not None and "--variant" not in refused
    assert "`ship` needs a variant (Variant, for ship)" in refused
    refused = record_decision(catalog, "checkout_redesign", {**form, "variant": "treatment"})
    assert refused is not None and "assay analyze" not in refused
    assert "never analysed; re-run the analysis first (Re-run analysis, below)" in refused
    refused = record_decision(catalog, "checkout_redesign",
                              {**form, "variant": "treatment", "decided_by": " "})
    assert refused is not None and "your name and why must not be empty" in refused


def test_an_override_refusal_names_the_checkbox() -> None:
    from assay.web.writes import for_the_form

    message = ("deciding `ship` contradicts the recommendation (no-decision: inconclusive); "
               "pass --override to record it anyway")
    worded = for_the_form(message, "exp")
    assert worded.endswith("tick “Record it even if it contradicts assay's recommendation” to "
                           "record it anyway") and "--override" not in worded
