"""The demo run from its dbt project gives the YAML demo's results (to 1e-9), experiment by
experiment: same definitions, same numbers, whichever layer holds them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from assay.analysis import analyze
from assay.spec import load_project

pytestmark = pytest.mark.xdist_group("dbt")
#: Fields that name how a result was computed rather than what it found.
# (the input fingerprint hashes the SQL and names the sources by relation, so it is "how" too)
_HOW = {"sql", "spec_hash", "run_at", "versions", "dbt_nodes", "fingerprint"}
#: Figures keyed by the source's relation (``orders`` here, ``"warehouse"."main"."fct_orders"``
#: from dbt): their values are compared in source order, their keys are "how".
_BY_RELATION = (".figures.matched_share",)


def _differences(a: Any, b: Any, path: str, out: list[str]) -> None:
    if path.endswith(_BY_RELATION) and isinstance(a, dict) and isinstance(b, dict):
        _differences(list(a.values()), list(b.values()), path, out)
    elif isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            out.append(f"{path}: keys {sorted(set(a) ^ set(b))}")
        for key in set(a) & set(b) - _HOW:
            _differences(a[key], b[key], f"{path}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _differences(x, y, f"{path}[{i}]", out)
    elif isinstance(a, float) and isinstance(b, float):
        if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
            out.append(f"{path}: {a!r} vs {b!r}")
    elif a != b:
        out.append(f"{path}: {a!r} vs {b!r}")


def test_dbt_demo_equals_yaml_demo(dbt_demo: Path, yaml_demo: Path) -> None:
    from_yaml, from_dbt = load_project(yaml_demo), load_project(dbt_demo)
    assert sorted(from_yaml.experiments) == sorted(from_dbt.experiments)
    dbt_defined = {n for n, m in from_dbt.metrics.items() if m.dbt is not None}
    assert {"revenue", "orders", "conversion", "aov", "refunds", "sessions", "pages"} <= (
        dbt_defined)
    for experiment in sorted(from_yaml.experiments):
        a = analyze(from_yaml, experiment).to_dict()
        b = analyze(from_dbt, experiment).to_dict()
        assert a["results"] and a["units"] > 0
        b["checks"] = [c for c in b["checks"] if c["name"] != "dbt_drift"]
        problems: list[str] = []
        _differences(a, b, experiment, problems)
        assert not problems, "\n".join(problems[:20])
        assert b["dbt_nodes"] and not a["dbt_nodes"]
