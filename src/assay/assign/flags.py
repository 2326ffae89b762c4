"""Feature flags: a value per unit, backed by an experiment's variant or by a rollout.

Flags live in ``flags/*.yml`` of a project (a ``flags:`` list)::

    flags:
      - name: new_checkout            # experiment-backed: the value follows the variant
        experiment: checkout_v2
        values: {control: false, treatment: true}
        default: false                # units not in the experiment
      - name: dark_mode               # rollout: `value` for `rollout` of eligible units
        rollout: 0.25
        value: true
        default: false
        targeting: "country = 'DE'"

A rollout hashes ``"flag:" + (salt or name)``; raising ``rollout`` only adds units. An
experiment-backed flag logs the experiment's exposure when it is evaluated (the unit is about to
see the variant-specific behaviour).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import yaml
from pydantic import Field, ValidationError, model_validator

from assay.assign.hashing import SaltedHasher, flag_salt
from assay.assign.layout import traffic_threshold
from assay.errors import SpecError, SpecIssue
from assay.spec.models import ExperimentSpec, Strict

if TYPE_CHECKING:
    from assay.assign.targeting import Rule


class FlagSpec(Strict):
    """One flag: exactly one of ``experiment`` (with ``values``) or ``rollout``."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]+$")]
    description: str | None = None
    experiment: str | None = Field(None, description="Experiment whose variant picks the value.")
    values: dict[str, Any] = Field(default_factory=dict, description="variant -> value")
    rollout: float | None = Field(None, ge=0, le=1, description="Share of eligible units on.")
    value: Any = Field(True, description="Value of a rollout flag for units in the rollout.")
    default: Any = Field(None, description="Value for everyone else.")
    targeting: str | None = Field(None, description="SQL boolean over unit attributes.")
    salt: str | None = Field(None, description="Rollout hash salt; defaults to the name.")

    @model_validator(mode="after")
    def _one_kind(self) -> FlagSpec:
        if (self.experiment is None) == (self.rollout is None):
            raise ValueError("a flag needs exactly one of `experiment` or `rollout`")
        if self.experiment is not None and not self.values:
            raise ValueError("an experiment-backed flag needs `values` (variant -> value)")
        if self.experiment is not None and self.targeting is not None:
            raise ValueError("an experiment-backed flag takes its targeting from the experiment")
        return self


class FlagsFile(Strict):
    """A ``flags/*.yml`` file."""

    flags: list[FlagSpec]


class CompiledRollout:
    """A rollout flag prepared for the hot path."""

    def __init__(self, spec: FlagSpec) -> None:
        self.spec = spec
        self.hasher = SaltedHasher(flag_salt(spec.salt or spec.name))
        self.threshold = traffic_threshold(spec.rollout or 0.0)
        self.rule: Rule | None = None
        if spec.targeting is not None:  # sqlglot only when a rule needs it (see engine.py)
            from assay.assign.targeting import compile_targeting

            self.rule = compile_targeting(spec.targeting, where=f"flags/{spec.name}")

    def in_rollout(self, unit_id: str, attributes: Mapping[str, Any] | None) -> bool:
        """Whether the unit is eligible and inside the rollout share."""
        if self.rule is not None and not self.rule(attributes):
            return False
        return self.hasher.bucket(unit_id) < self.threshold

    def evaluate(self, unit_id: str, attributes: Mapping[str, Any] | None) -> Any:
        """The flag's value for one unit."""
        return self.spec.value if self.in_rollout(unit_id, attributes) else self.spec.default


def check_flags(flags: Mapping[str, FlagSpec], experiments: Mapping[str, ExperimentSpec]
                ) -> list[SpecIssue]:
    """Cross-references: a flag's experiment exists and its ``values`` name real variants."""
    issues = []
    for name, flag in sorted(flags.items()):
        where = f"flags/{name}"
        if flag.experiment is None:
            continue
        spec = experiments.get(flag.experiment)
        if spec is None:
            issues.append(SpecIssue(where, None, "experiment", "no such experiment",
                                    value=flag.experiment))
            continue
        known = {v.name for v in spec.variants}
        unknown = sorted(set(flag.values) - known)
        if unknown:
            issues.append(SpecIssue(where, None, "values", "names variants the experiment "
                                    "does not have", value=", ".join(unknown),
                                    hint=f"variants: {', '.join(sorted(known))}"))
    return issues


def load_flags(root: str | Path) -> dict[str, FlagSpec]:
    """Read ``flags/*.yml`` under a project directory (none: an empty dict).

    Raises:
        SpecError: Every invalid file or duplicate name, at once.
    """
    folder = Path(root) / "flags"
    flags: dict[str, FlagSpec] = {}
    issues: list[SpecIssue] = []
    if not folder.is_dir():
        return flags
    for file in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        shown = str(file.relative_to(root)) if file.is_relative_to(root) else str(file)
        try:
            parsed = FlagsFile.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))
        except (yaml.YAMLError, ValidationError) as err:
            issues.append(SpecIssue(shown, None, "", f"invalid flags file: {err}"))
            continue
        for flag in parsed.flags:
            if flag.name in flags:
                issues.append(SpecIssue(shown, None, "name", "flag defined twice",
                                        value=flag.name))
            flags[flag.name] = flag
    if issues:
        raise SpecError(issues)
    return flags
