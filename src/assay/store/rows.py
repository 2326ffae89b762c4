"""An analysis result (its JSON form) as rows of the typed tables.

Rows are built from :meth:`AnalysisResult.to_dict`, the documented JSON contract, so a fresh
result and one carried forward from the legacy JSON table are stored by the same code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

from assay.secrets import redact
from assay.store.schema import RESULTS

Row = dict[str, Any]

# Fields of the JSON that are not inputs of the analysis: a rerun differs only in these.
_NOT_INPUTS = ("run_at", "versions")
_INTERVALS = frozenset({"diff_ci", "rel_lift_ci", "diff_ci_adjusted", "rel_lift_ci_adjusted",
                        "sequential_ci", "credible_interval"})


def canonical(value: Any) -> str:
    """Canonical JSON text (sorted keys, no spaces): what every hash in the store is taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str,
                      ensure_ascii=False)


def sha256(value: Any) -> str:
    """SHA-256 of ``canonical(value)``."""
    return hashlib.sha256(canonical(value).encode("utf-8")).hexdigest()


def fingerprint(data: dict[str, Any]) -> str:
    """The input fingerprint of an analysis: its result without run time and versions.

    Every figure of a result is a function of the spec, the data window and the data, so two
    analyses with one fingerprint saw the same inputs and produced the same rows. A warehouse's
    parallel sums of doubles differ run to run in the last bits (DuckDB: ~1e-13 of the sum),
    which is not a change of input, so figures are hashed on a grid: a metric comparison's on
    1e-7 of its means' magnitude (a difference near zero inherits the noise of the means), any
    other figure on 1e-9 of its own magnitude.
    """
    inputs = {k: v for k, v in data.items() if k not in _NOT_INPUTS}
    for key in ("results", "segments"):
        inputs[key] = [_on_grid(r, _grid(r)) for r in inputs.get(key, [])]
    return sha256(_on_grid(inputs, None))


def _grid(result: dict[str, Any]) -> float:
    means = [abs(v) for v in (result.get("mean_control"), result.get("mean_treatment"))
             if isinstance(v, int | float)]
    return 1e-7 * max([1.0, *means])


def _on_grid(value: Any, grid: float | None) -> Any:
    if isinstance(value, float):
        step = grid if grid is not None else 1e-9 * max(1.0, abs(value))
        return round(value / step)
    if isinstance(value, dict):
        return {k: _on_grid(v, grid) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_on_grid(v, grid) for v in value]
    return value


def parse_time(text: str | None) -> dt.datetime | None:
    """An ISO timestamp as a naive UTC datetime (None stays None)."""
    if not text:
        return None
    value = dt.datetime.fromisoformat(str(text))
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def analysis_rows(
    data: dict[str, Any],
    *,
    recommendation: tuple[str, list[str]],
    experiment_status: str,
    plan_hash: str | None,
    duration_s: float | None,
    window: tuple[dt.datetime | None, dt.datetime | None] = (None, None),
    analysis_id: str | None = None,
) -> dict[str, list[Row]]:
    """Rows of ``analyses``, ``arms``, ``results`` and ``checks`` for one result's JSON form."""
    analysis_id = analysis_id or uuid.uuid4().hex
    data = {**data, "sql": {k: redact(str(v)) for k, v in (data.get("sql") or {}).items()}}
    experiment = str(data["experiment"])
    versions = data.get("versions") or {}
    verdict, reasons = recommendation
    analysis: Row = {
        "analysis_id": analysis_id,
        "experiment_id": experiment,
        "run_at": parse_time(data.get("run_at")),
        "fingerprint": fingerprint(data),
        "spec_hash": data.get("spec_hash"),
        "plan_hash": plan_hash,
        "experiment_status": experiment_status,
        "window_start": window[0],
        "window_end": window[1],
        "duration_s": duration_s,
        "units": data.get("units", sum(int(a["units"]) for a in data.get("arms", []))),
        "control": data.get("control"),
        "alpha": data.get("alpha"),
        "correction": data.get("correction"),
        "cuped": data.get("cuped"),
        "warehouse": data.get("warehouse"),
        "check_status": data.get("status"),
        "recommendation": verdict,
        "recommendation_reasons": canonical(reasons),
        "assay_version": versions.get("assay"),
        "versions_json": canonical(versions),
        "sql_json": canonical(data.get("sql") or {}),
        "result_json": json.dumps(data, ensure_ascii=False, default=str),
    }
    keys = {"analysis_id": analysis_id, "experiment_id": experiment}
    arms = [{**keys, "position": i, **{k: a.get(k) for k in (
        "variant", "units", "expected_share", "observed_share", "exposure_rows")}}
        for i, a in enumerate(data.get("arms", []))]
    results = [result_row(r, {**keys, "position": i}) for i, r in enumerate(
        [*data.get("results", []), *data.get("segments", [])])]
    checks = [{**keys, "position": i, "name": c.get("name"), "status": c.get("status"),
               "message": c.get("message"), "figures_json": canonical(c.get("figures") or {}),
               "code": c.get("code"), "remedy": c.get("remedy")}
              for i, c in enumerate(data.get("checks", []))]
    return {"analyses": [analysis], "arms": arms, "results": results, "checks": checks}


def result_row(result: dict[str, Any], keys: Row) -> Row:
    """One metric comparison as a ``results`` row: intervals split into low and high."""
    row: Row = dict(keys)
    for name, value in result.items():
        if name in _INTERVALS:
            low, high = value if value else (None, None)
            row[f"{name}_low"], row[f"{name}_high"] = low, high
        elif name in RESULTS:
            row[name] = value
        elif f"{name}_json" in RESULTS:
            row[f"{name}_json"] = canonical(value)
    return row
