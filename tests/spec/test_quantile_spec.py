"""Quantile metric specs: what they need, what they refuse, each error located."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from tests.metrics.latency import EXPERIMENT, METRICS, PROJECT

from assay.errors import SpecError
from assay.spec import load_project
from assay.spec.models import MetricsFile

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _issues(root: Path, metrics: str, experiment: str = EXPERIMENT) -> list[str]:
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "experiments").mkdir(exist_ok=True)
    (root / "assay_project.yml").write_text(PROJECT, encoding="utf-8")
    (root / "metrics" / "m.yml").write_text(metrics, encoding="utf-8")
    (root / "experiments" / "exp.yml").write_text(experiment, encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_project(root)
    return [i.format() for i in err.value.issues]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("    quantile: 0.95\n", ""), "needs `quantile`"),
        (("    quantile: 0.95\n", "    quantile: 1.5\n"), "less than 1"),
        (("    value: latency_ms\n    filter", "    filter"), "needs a `value`"),
        (("    window: [0d, 7d]\n  - name: median", "    window: [0d, 7d]\n"
          "    pre_window: [-7d, 0d]\n  - name: median"), "no `capping` or `pre_window`"),
        (("  - name: requests\n", "  - name: requests\n    quantile: 0.5\n"),
         "belong to quantile metrics"),
    ],
)
def test_bad_quantile_fields_are_located(tmp_path: Path, edit: tuple[str, str],
                                         message: str) -> None:
    assert edit[0] in METRICS
    issues = _issues(tmp_path, METRICS.replace(edit[0], edit[1], 1))
    assert any("metrics/m.yml:" in i and message in i for i in issues), issues


def test_a_ratio_of_a_quantile_and_rank_tests_of_one_are_refused(tmp_path: Path) -> None:
    metrics = METRICS + ("  - name: odd\n    kind: ratio\n    numerator: p95_latency\n"
                         "    denominator: requests\n")
    issues = _issues(tmp_path, metrics, EXPERIMENT + "rank_tests: [p95_latency]\n")
    assert any("numerator: `p95_latency` is itself a quantile" in i for i in issues), issues
    assert any("rank_tests[0]: `p95_latency` is a quantile metric" in i for i in issues), issues


def test_the_documented_quantile_example_is_valid() -> None:
    text = (DOCS / "specs.md").read_text(encoding="utf-8")
    section = text[text.index("### Quantile metrics"):]
    block = re.search(r"```yaml\n(.*?)```", section, flags=re.S)
    assert block is not None
    [metric] = MetricsFile.model_validate(yaml.safe_load(block.group(1))).metrics
    assert (metric.kind, metric.quantile, metric.quantile_of) == ("quantile", 0.95, "event")
