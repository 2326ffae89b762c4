"""Salt hygiene findings."""

from __future__ import annotations

from typing import Any

from assay.assign.hygiene import check_salts
from assay.spec.models import ExperimentSpec


def _spec(exp_id: str, **kw: Any) -> ExperimentSpec:
    kw.setdefault("variants", [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}])
    return ExperimentSpec(id=exp_id, **kw)


def _codes(specs: list[ExperimentSpec]) -> list[tuple[str, tuple[str, ...]]]:
    return [(f.code, f.experiments) for f in check_salts({s.id: s for s in specs}, sample=5000)]


def test_clean_project_has_no_findings() -> None:
    assert _codes([_spec("a"), _spec("b"), _spec("c", salt="c_2026")]) == []


def test_shared_salt_is_flagged() -> None:
    assert _codes([_spec("a", salt="s"), _spec("b", salt="s")]) == [("shared_salt", ("a", "b"))]
    # an explicit salt equal to another experiment's default salt (its id)
    assert _codes([_spec("a"), _spec("b", salt="a")]) == [("shared_salt", ("a", "b"))]


def test_derived_salt_collisions() -> None:
    codes = _codes([_spec("a", traffic=0.5), _spec("b", salt="a:traffic")])
    assert codes == [("derived_salt_collision", ("b", "a"))]
    codes = _codes([_spec("a", layer="x", layer_range=(0, 10)), _spec("c", salt="layer:x")])
    assert ("derived_salt_collision", ("c",)) in codes


def test_layer_overlap() -> None:
    codes = _codes([_spec("a", layer="L", layer_range=(0, 5000)),
                    _spec("b", layer="L", layer_range=(4000, 6000)),
                    _spec("c", layer="L", layer_range=(6000, 10000))])
    assert codes == [("layer_overlap", ("a", "b"))]


def test_unused_buckets_warning() -> None:
    findings = check_salts({"a": _spec("a", variants=[{"name": "a", "weight": 1},
                                                      {"name": "b", "weight": 9}])})
    assert [(f.code, f.severity) for f in findings] == [("unused_buckets", "warning")]
    assert findings[0].figures["coverage"] == 0.5555
