"""The assay SDK: variants and flags for units, in-process, from the project or a snapshot.

Example:
    >>> from assay.spec.models import ExperimentSpec
    >>> spec = ExperimentSpec(id="checkout_v2", variants=[
    ...     {"name": "control", "weight": 1}, {"name": "treatment", "weight": 1}])
    >>> client = Client([spec])
    >>> client.variant("checkout_v2", "user-1")
    'control'
    >>> client.variants("checkout_v2", ["user-1", "user-2"]).tolist()
    ['control', 'treatment']

With a logger (``Client.from_project(".", logger=ExposureLogger(HttpSink(url)))``) the first
``variant()`` of a unit in an experiment logs its exposure; forced (QA) units are not logged, so
they never enter an analysis. Call ``variant()`` where the variant-specific behaviour is shown,
not at page load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from assay.assign.engine import Assignment, BatchAttributes, CompiledExperiment, compile_experiments
from assay.assign.flags import CompiledRollout, FlagSpec, check_flags, load_flags
from assay.assign.hashing import unit_text
from assay.assign.snapshot import parse_snapshot, read_snapshot
from assay.errors import AssayError, SpecError
from assay.exposure.logger import ExposureLogger
from assay.spec.models import ExperimentSpec

__all__ = ["Client", "FlagDetails", "UnknownExperimentError"]


class UnknownExperimentError(AssayError, KeyError):
    """``variant()`` named an experiment the client does not know."""


@dataclass(frozen=True)
class FlagDetails:
    """A flag's value for one unit, the variant behind it and the reason (see ``flag_details``)."""

    value: Any
    variant: str | None
    reason: str


class Client:
    """Assigns units to variants and evaluates flags, logging exposures if given a logger.

    Args:
        experiments: Experiment specs (a mapping id -> spec, or an iterable).
        flags: Flag specs.
        logger: Where first exposures go; None logs nothing.
    """

    def __init__(self, experiments: Mapping[str, ExperimentSpec] | Iterable[ExperimentSpec],
                 flags: Mapping[str, FlagSpec] | Iterable[FlagSpec] = (), *,
                 logger: ExposureLogger | None = None) -> None:
        self._experiments = compile_experiments(experiments)
        self._flags = dict(flags) if isinstance(flags, Mapping) else {f.name: f for f in flags}
        issues = check_flags(self._flags, self.experiments)
        if issues:
            raise SpecError(issues)
        self._rollouts = {n: CompiledRollout(f) for n, f in self._flags.items()
                          if f.rollout is not None}
        self.logger = logger

    @classmethod
    def from_project(cls, path: str | Path = ".", *, logger: ExposureLogger | None = None
                     ) -> Client:
        """Load ``experiments/*.yml`` and ``flags/*.yml`` of a project directory."""
        from assay.spec import load_project

        project = load_project(path)
        return cls(project.experiments, load_flags(project.root), logger=logger)

    @classmethod
    def from_snapshot(cls, source: str | Path, *, logger: ExposureLogger | None = None,
                      timeout: float = 10.0) -> Client:
        """Load a JSON snapshot (``assay snapshot``) from a file or an ``http(s)://`` URL."""
        experiments, flags = parse_snapshot(read_snapshot(source, timeout=timeout))
        return cls(experiments, flags, logger=logger)

    @property
    def experiments(self) -> dict[str, ExperimentSpec]:
        """Experiment id -> spec."""
        return {k: c.spec for k, c in self._experiments.items()}

    @property
    def flags(self) -> dict[str, FlagSpec]:
        """Flag name -> spec."""
        return dict(self._flags)

    def _compiled(self, experiment: str) -> CompiledExperiment:
        try:
            return self._experiments[experiment]
        except KeyError:
            raise UnknownExperimentError(
                f"unknown experiment '{experiment}'; known: "
                + ", ".join(sorted(self._experiments))) from None

    def variant(self, experiment: str, unit_id: str | int,
                attributes: Mapping[str, Any] | None = None, *, log: bool = True) -> str | None:
        """The unit's variant (None: not in the experiment); logs the first exposure.

        Args:
            experiment: Experiment id.
            unit_id: The unit (a string; integers are used in decimal).
            attributes: Unit attributes for targeting rules.
            log: Log the exposure (set False to peek without exposing).
        """
        compiled = self._experiments.get(experiment) or self._compiled(experiment)
        if type(unit_id) is not str:
            unit_id = unit_text(unit_id)
        chosen = compiled.variant(unit_id, attributes)
        if chosen is not None and log and self.logger is not None and \
                unit_id not in compiled.forced:
            self.logger.log(experiment, chosen, unit_id)
        return chosen

    def flag(self, name: str, unit_id: str | int, attributes: Mapping[str, Any] | None = None,
             default: Any = None) -> Any:
        """The flag's value for the unit (the flag's ``default`` when it does not apply).

        An unknown flag returns ``default``: flags are evaluated in production code paths, and a
        missing flag must degrade to the safe value rather than raise.
        """
        spec = self._flags.get(name)
        if spec is None:
            return default
        if type(unit_id) is not str:
            unit_id = unit_text(unit_id)
        rollout = self._rollouts.get(name)
        if rollout is not None:
            return rollout.evaluate(unit_id, attributes)
        chosen = self.variant(spec.experiment or "", unit_id, attributes)
        if chosen is None:
            return spec.default
        return spec.values.get(chosen, spec.default)

    def flag_details(self, name: str, unit_id: str | int,
                     attributes: Mapping[str, Any] | None = None) -> FlagDetails | None:
        """The flag's value with the variant that produced it and why (None: unknown flag).

        ``variant`` is the experiment's variant, or ``"on"`` / ``"off"`` for a rollout;
        ``reason`` is ``split`` (the hash chose), ``forced`` (a QA unit) or ``default`` (the unit
        is not in the experiment or rollout).
        """
        spec = self._flags.get(name)
        if spec is None:
            return None
        uid = unit_text(unit_id)
        rollout = self._rollouts.get(name)
        if rollout is not None:
            on = rollout.in_rollout(uid, attributes)
            return FlagDetails(spec.value if on else spec.default, "on" if on else "off",
                               "split" if on else "default")
        compiled = self._compiled(spec.experiment or "")
        chosen = self.variant(compiled.id, uid, attributes)
        if chosen is None:
            return FlagDetails(spec.default, None, "default")
        reason = "forced" if uid in compiled.forced else "split"
        return FlagDetails(spec.values.get(chosen, spec.default), chosen, reason)

    def variants(self, experiment: str, unit_ids: Iterable[str | int],
                 attributes: BatchAttributes = None) -> npt.NDArray[np.object_]:
        """Variants of many units at once (None where not assigned); logs nothing.

        ``attributes`` is a sequence of per-unit mappings or a mapping of columns.
        """
        return self._compiled(experiment).variants(unit_ids, attributes)

    def explain(self, experiment: str, unit_id: str | int,
                attributes: Mapping[str, Any] | None = None) -> Assignment:
        """Why the unit gets its variant (the deciding gate and its bucket); logs nothing."""
        return self._compiled(experiment).explain(unit_id, attributes)

    def close(self) -> None:
        """Flush and stop the exposure logger, if any."""
        if self.logger is not None:
            self.logger.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
