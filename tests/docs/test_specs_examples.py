"""Every YAML example in docs/specs.md is a valid spec as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from assay.spec.models import ExperimentSpec, MetricsFile

DOC = Path(__file__).resolve().parents[2] / "docs" / "specs.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_doc_has_metric_and_experiment_examples() -> None:
    assert sum("metrics:\n  - name" in b for b in BLOCKS) >= 2
    assert any(b.startswith("# experiments/") for b in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS)
def test_yaml_example_validates(block: str) -> None:
    data = yaml.safe_load(block)
    if block.startswith("# experiments/"):
        spec = ExperimentSpec.model_validate({"id": "checkout_redesign", **data})
        assert spec.sequential is not None and spec.bayesian is not None
        assert spec.lift_interval == "delta"
    else:
        assert MetricsFile.model_validate(data).metrics
