"""The ``plan_changed`` check: the current plan against the one frozen at ``assay start``.

A change to what decides significance fails (alpha, correction, primary metrics, the sequential
or Bayesian design, CUPED, the variants, the unit or the hash salt, removing a guardrail, and any
change to the definition of a primary or guardrail metric: metric drift); other analysis choices
warn (secondary metrics or guardrails added, segments, dates, planned sample size, targeting,
traffic, a secondary metric's definition). Descriptive fields (name, hypothesis, owner) are free.

Both plans are the JSON data of :func:`assay.store.plan.current_plan`; the check is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assay.results import PLAN_CHECK, Check, Status

_FAILS = frozenset({"alpha", "correction", "sequential", "bayesian", "cuped", "variants", "unit",
                    "salt", "hash_version"})
_FREE = frozenset({"id", "name", "hypothesis", "owner", "description"})


@dataclass(frozen=True)
class PlanChange:
    """One field that differs from the frozen plan."""

    field: str
    frozen: Any
    current: Any
    severity: Status

    def describe(self) -> str:
        """``alpha: 0.05 -> 0.1``."""
        return f"{self.field}: {_show(self.frozen)} -> {_show(self.current)}"


def plan_changes(frozen: dict[str, Any], current: dict[str, Any]) -> list[PlanChange]:
    """Every difference between two plans, field by field, most severe first."""
    changes = _experiment_changes(frozen.get("experiment", {}), current.get("experiment", {}))
    changes += _metric_changes(frozen, current)
    return sorted(changes, key=lambda c: (c.severity != "fail", c.field))


def check_plan(frozen: dict[str, Any], current: dict[str, Any], *, version: int) -> Check:
    """The ``plan_changed`` verdict, naming each changed field in its message."""
    changes = plan_changes(frozen, current)
    figures: dict[str, Any] = {
        "plan_version": version,
        "changes": [{"field": c.field, "frozen": c.frozen, "current": c.current,
                     "severity": c.severity} for c in changes],
    }
    if not changes:
        return Check(PLAN_CHECK, "pass", f"the analysis follows the pre-registered plan "
                     f"(version {version})", figures)
    status: Status = "fail" if any(c.severity == "fail" for c in changes) else "warn"
    listed = "; ".join(c.describe() for c in changes)
    hint = " (`assay start --amend --why ...` records a deliberate change)"
    return Check(PLAN_CHECK, status, f"differs from the plan frozen at start (version "
                 f"{version}): {listed}{hint}", figures)


def _experiment_changes(frozen: dict[str, Any], current: dict[str, Any]) -> list[PlanChange]:
    changes: list[PlanChange] = []
    for key in sorted(set(frozen) | set(current)):
        before, after = frozen.get(key), current.get(key)
        if key in _FREE or before == after:
            continue
        if key == "metrics":
            changes += _role_changes(before or {}, after or {})
        else:
            changes.append(PlanChange(key, before, after, "fail" if key in _FAILS else "warn"))
    return changes


def _role_changes(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[PlanChange]:
    changes = []
    for role in sorted(set(before) | set(after)):
        old, new = before.get(role) or [], after.get(role) or []
        if old == new:
            continue
        removed = set(old) - set(new)
        fails = role == "primary" or (role == "guardrails" and bool(removed))
        changes.append(PlanChange(f"metrics.{role}", old, new, "fail" if fails else "warn"))
    return changes


def _metric_changes(frozen: dict[str, Any], current: dict[str, Any]) -> list[PlanChange]:
    """Metric drift: a definition whose hash differs from the frozen one."""
    old_hashes, new_hashes = frozen.get("metric_hashes", {}), current.get("metric_hashes", {})
    decisive = _decisive_metrics(frozen) | _decisive_metrics(current)
    changes = []
    for name in sorted(set(old_hashes) & set(new_hashes)):
        if old_hashes[name] == new_hashes[name]:
            continue
        old, new = frozen["metrics"].get(name, {}), current["metrics"].get(name, {})
        fields = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        changes.append(PlanChange(
            f"metric {name} ({', '.join(fields)})",
            {k: old.get(k) for k in fields}, {k: new.get(k) for k in fields},
            "fail" if name in decisive else "warn",
        ))
    return changes


def _decisive_metrics(plan: dict[str, Any]) -> set[str]:
    """Primary and guardrail metrics, with the parts of those that are ratios."""
    refs = plan.get("experiment", {}).get("metrics", {})
    names = set(refs.get("primary") or []) | set(refs.get("guardrails") or [])
    for name in list(names):
        definition = plan.get("metrics", {}).get(name, {})
        names |= {definition.get(p) for p in ("numerator", "denominator")} - {None}
    return names


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return "none" if value is None else str(value)
