"""Assignment gates: weights, traffic, layers, targeting, holdouts, forced variants."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

from assay.assign.engine import compile_experiments
from assay.errors import SpecError
from assay.spec.models import ExperimentSpec

IDS = [f"u{i}" for i in range(40_000)]


def _spec(exp_id: str = "e", weights: tuple[float, ...] = (1, 1), **kw: Any) -> ExperimentSpec:
    variants = [{"name": f"v{i}", "weight": w} for i, w in enumerate(weights)]
    return ExperimentSpec(id=exp_id, variants=variants, **kw)


def _assign(spec: ExperimentSpec, ids: list[str] = IDS) -> np.ndarray:
    return compile_experiments([spec])[spec.id].variants(ids)


def test_weights_are_respected() -> None:
    out = _assign(_spec(weights=(50, 30, 20)))
    counts = [int((out == f"v{i}").sum()) for i in range(3)]
    entered = sum(counts)
    # chi-square goodness of fit against the weights among entrants (scipy as the oracle)
    p = stats.chisquare(counts, np.array([0.5, 0.3, 0.2]) * entered).pvalue
    assert p > 1e-4
    # anchored slots: the largest arm fills its slot, the coverage is sum(w) / (n max w)
    assert entered / len(IDS) == pytest.approx(100 / 150, abs=0.01)


def test_raising_traffic_only_adds_units() -> None:
    before = _assign(_spec(traffic=0.2))
    after = _assign(_spec(traffic=0.7))
    was_in = before != None  # noqa: E711 (numpy elementwise)
    assert (after[was_in] == before[was_in]).all()
    assert (after != None).sum() > 3 * was_in.sum()  # noqa: E711
    assert (before != None).mean() == pytest.approx(0.2, abs=0.01)  # noqa: E711


@pytest.mark.parametrize(("old", "new"), [((1, 1), (1, 3)), ((1, 1), (3, 1)),
                                          ((50, 30, 20), (20, 30, 50)), ((1, 9), (1, 1))])
def test_changing_weights_never_moves_a_unit_across_arms(old: tuple[float, ...],
                                                         new: tuple[float, ...]) -> None:
    before, after = _assign(_spec(weights=old)), _assign(_spec(weights=new))
    both = (before != None) & (after != None)  # noqa: E711
    assert both.sum() > 1000
    assert (before[both] == after[both]).all()


def test_weight_increase_keeps_every_unit_of_that_arm() -> None:
    before, after = _assign(_spec(weights=(1, 3))), _assign(_spec(weights=(2, 3)))
    assert (after[before == "v0"] == "v0").all()
    assert (after[before == "v1"] == "v1").all()


def test_layer_experiments_are_mutually_exclusive() -> None:
    a = _spec("a", layer="checkout", layer_range=(0, 3000))
    b = _spec("b", layer="checkout", layer_range=(3000, 10_000))
    compiled = compile_experiments([a, b])
    in_a = compiled["a"].variants(IDS) != None  # noqa: E711
    in_b = compiled["b"].variants(IDS) != None  # noqa: E711
    assert not (in_a & in_b).any()
    assert (in_a | in_b).all()
    assert in_a.mean() == pytest.approx(0.3, abs=0.01)


def test_layer_independent_of_variant_split() -> None:
    spec = _spec("a", layer="L", layer_range=(0, 5000))
    inside = _assign(spec)
    free = _assign(_spec("a"))
    entered = inside != None  # noqa: E711
    # units the layer admits keep the variant they would have without the layer
    assert (inside[entered] == free[entered]).all()


def test_targeting_gates_units() -> None:
    spec = _spec(targeting="country = 'DE' AND age >= 18")
    c = compile_experiments([spec])["e"]
    assert c.variant("u1", {"country": "DE", "age": 30}) is not None or \
        c.explain("u1", {"country": "DE", "age": 30}).reason == "unallocated"
    assert c.variant("u1", {"country": "FR", "age": 30}) is None
    assert c.variant("u1", {"country": "DE"}) is None  # NULL age: unknown, not eligible
    assert c.explain("u1", None).reason == "targeting"


def test_holdout_excludes_its_control_arm() -> None:
    hold = ExperimentSpec(id="h", variants=[{"name": "held", "weight": 1, "control": True},
                                            {"name": "rest", "weight": 1}], traffic=0.2)
    main = _spec("m", holdout="h")
    compiled = compile_experiments([hold, main])
    held = compiled["h"].variants(IDS) == "held"
    assigned = compiled["m"].variants(IDS) != None  # noqa: E711
    assert held.mean() == pytest.approx(0.1, abs=0.01)
    assert not (held & assigned).any()
    assert assigned[~held].all()
    assert [compiled["m"].variant(u) is None for u in IDS[:500]] == held[:500].tolist()


def test_forced_variant_wins_over_every_gate() -> None:
    spec = _spec(traffic=0.01, targeting="country = 'DE'", forced={"qa-7": "v1"})
    c = compile_experiments([spec])["e"]
    assert c.variant("qa-7") == "v1"
    assert c.explain("qa-7").reason == "forced"
    assert c.variants(["qa-7", "x"]).tolist() == ["v1", None]


def test_bad_forced_variant_and_holdout_cycles_are_spec_errors() -> None:
    with pytest.raises(SpecError, match="forces a variant"):
        compile_experiments([_spec(forced={"qa": "nope"})])
    with pytest.raises(SpecError, match="cycle"):
        compile_experiments([_spec("a", holdout="b"), _spec("b", holdout="a")])
    with pytest.raises(SpecError, match="does not exist"):
        compile_experiments([_spec("a", holdout="zzz")])


def test_single_and_batch_agree_with_all_gates() -> None:
    hold = _spec("h", traffic=0.3)
    spec = _spec("m", weights=(1, 2, 3), traffic=0.6, layer="L", layer_range=(1000, 8000),
                 targeting="plan IN ('pro', 'team')", holdout="h", forced={"u5": "v2"})
    c = compile_experiments([hold, spec])["m"]
    ids = IDS[:5000]
    attrs = [{"plan": ("pro", "free", "team", None)[i % 4]} for i in range(len(ids))]
    assert c.variants(ids, attrs).tolist() == [c.variant(u, a) for u, a in zip(ids, attrs,
                                                                               strict=True)]
    columns = {"plan": [a["plan"] for a in attrs]}
    assert c.variants(ids, columns).tolist() == c.variants(ids, attrs).tolist()
