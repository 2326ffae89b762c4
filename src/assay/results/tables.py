"""Results as tables: one Arrow table (or pandas frame) per part of an analysis.

Intervals become two columns (``rel_lift_ci_low``, ``rel_lift_ci_high``) and a check's
``figures`` a JSON string, so every column has one plain type and the tables round-trip
through Parquet or a warehouse.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

if TYPE_CHECKING:
    from assay.results.model import AnalysisResult

Part = Literal["results", "segments", "checks", "arms", "rank_tests", "bootstrap"]
PARTS: tuple[Part, ...] = ("results", "segments", "checks", "arms", "rank_tests", "bootstrap")


def to_arrow(result: AnalysisResult, part: Part = "results") -> pa.Table:
    """One part of ``result`` as an Arrow table, one row per item (columns kept when empty).

    Raises:
        ValueError: ``part`` is not one of :data:`PARTS`.
    """
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; expected one of {', '.join(PARTS)}")
    cls = _item_class(part)
    pairs = {f.name for f in dataclasses.fields(cls) if "tuple" in str(f.type)}
    rows = [_flatten(dataclasses.asdict(item), pairs) for item in getattr(result, part)]
    columns = [c for f in dataclasses.fields(cls) for c in _column_names(f)]
    data = {c: [row.get(c) for row in rows] for c in columns}
    schema = pa.schema([pa.field(c, _type(cls, c)) for c in columns])
    table = pa.table(data, schema=schema)
    return table.append_column("experiment", pa.array([result.experiment] * len(rows), pa.string()))


def _item_class(part: Part) -> Any:
    from assay.results import model

    return {"results": model.MetricResult, "segments": model.MetricResult, "checks": model.Check,
            "arms": model.Arm, "rank_tests": model.RankTest,
            "bootstrap": model.BootstrapInterval}[part]


def _column_names(f: dataclasses.Field[Any]) -> list[str]:
    if "tuple" in str(f.type):
        return [f"{f.name}_low", f"{f.name}_high"]
    return [f.name]


def _flatten(item: dict[str, Any], pairs: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key in pairs:
            out[f"{key}_low"], out[f"{key}_high"] = value if value is not None else (None, None)
        elif key == "figures":
            out[key] = json.dumps(value, default=str, sort_keys=True)
        else:
            out[key] = value
    return out


def _type(cls: Any, column: str) -> pa.DataType:
    hints = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    name = column.removesuffix("_low").removesuffix("_high")
    hint = hints.get(column) or hints[name]
    if "tuple" in hint or hint.startswith("float"):
        return pa.float64()
    if hint.startswith("int"):
        return pa.int64()
    if hint.startswith("bool"):
        return pa.bool_()
    return pa.string()
