"""Compiled experiments: the hot path of assignment, single and vectorised.

A unit's variant is decided by gates in this order (each documented in ``docs/assignment.md``):

1. **forced**: a QA unit listed in ``forced`` gets its variant, whatever else holds;
2. **holdout**: a unit in the control arm of the ``holdout`` experiment is left out;
3. **targeting**: the rule must be TRUE on the unit's attributes;
4. **layer**: the layer hash must fall in the experiment's ``layer_range``;
5. **traffic**: the traffic hash must be below ``traffic * 10000``;
6. **variant**: the variant hash picks the arm through anchored slots (:mod:`.layout`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from assay.assign.hashing import BUCKETS, SaltedHasher, layer_salt, traffic_salt, unit_text
from assay.assign.layout import VariantRange, bucket_table, traffic_threshold, variant_ranges
from assay.errors import SpecError, SpecIssue
from assay.spec.models import ExperimentSpec

if TYPE_CHECKING:
    from assay.assign.targeting import Rule

Attributes = Mapping[str, Any]
BatchAttributes = Sequence[Attributes | None] | Mapping[str, Sequence[Any]] | None

REASONS = ("forced", "holdout", "targeting", "layer", "traffic", "unallocated", "assigned")


@dataclass(frozen=True)
class Assignment:
    """Why a unit got (or did not get) a variant; for debugging and the CLI, not the hot path.

    Attributes:
        experiment: Experiment id.
        unit_id: The unit.
        variant: The variant, or None when the unit is not in the experiment.
        reason: The gate that decided (one of :data:`REASONS`).
        bucket: The unit's variant-hash bucket in ``[0, 10000)``.
    """

    experiment: str
    unit_id: str
    variant: str | None
    reason: str
    bucket: int


class CompiledExperiment:
    """One experiment prepared for fast assignment (salts encoded, bucket table precomputed)."""

    def __init__(self, spec: ExperimentSpec, holdout: CompiledExperiment | None = None) -> None:
        self.spec = spec
        self.id = spec.id
        names = [v.name for v in spec.variants]
        self.ranges: list[VariantRange] = variant_ranges(names, [v.weight for v in spec.variants])
        table = bucket_table(self.ranges)
        self._table: tuple[str | None, ...] = tuple(None if i < 0 else names[i] for i in table)
        self._np_names = np.array([*names, None], dtype=object)
        self._np_table = np.array(table, dtype=np.int64)
        self.hasher = SaltedHasher(spec.hash_salt)
        self.forced = _checked_forced(spec)
        self.rule: Rule | None = None
        self.rule_attributes: list[str] = []
        if spec.targeting is not None:  # sqlglot (~0.25 s to import) only when a rule needs it
            from assay.assign.targeting import attributes_of, compile_targeting

            self.rule = compile_targeting(spec.targeting, where=f"experiments/{spec.id}.yml")
            self.rule_attributes = attributes_of(spec.targeting)
        self.holdout = holdout
        self.holdout_control = holdout.spec.control.name if holdout is not None else None
        self.layer_hasher = SaltedHasher(layer_salt(spec.layer)) if spec.layer else None
        self.layer_range = spec.layer_range or (0, BUCKETS)
        threshold = traffic_threshold(spec.traffic)
        self.traffic_hasher = SaltedHasher(traffic_salt(spec.hash_salt)) \
            if threshold < BUCKETS else None
        self.threshold = threshold

    def variant(self, unit_id: str | int, attributes: Attributes | None = None) -> str | None:
        """The unit's variant, or None when it is not in the experiment (the hot path)."""
        if type(unit_id) is not str:
            unit_id = unit_text(unit_id)
        reason = self._gate(unit_id, attributes)
        if reason == "assigned":
            return self._table[self.hasher.bucket(unit_id)]
        return self.forced[unit_id] if reason == "forced" else None

    def explain(self, unit_id: str | int, attributes: Attributes | None = None) -> Assignment:
        """Like :meth:`variant`, with the deciding gate and the bucket."""
        uid = unit_text(unit_id)
        b = self.hasher.bucket(uid)
        reason = self._gate(uid, attributes)
        variant = self.forced[uid] if reason == "forced" else \
            self._table[b] if reason == "assigned" else None
        if reason == "assigned" and variant is None:
            reason = "unallocated"
        return Assignment(self.id, uid, variant, reason, b)

    def _gate(self, uid: str, attributes: Attributes | None) -> str:
        """The gate that decides ``uid`` (``assigned``: the variant hash does); one for both
        :meth:`variant` and :meth:`explain`, so the two cannot disagree."""
        if uid in self.forced:
            return "forced"
        if self.holdout is not None and \
                self.holdout.variant(uid, attributes) == self.holdout_control:
            return "holdout"
        if self.rule is not None and not self.rule(attributes):
            return "targeting"
        if self.layer_hasher is not None and \
                not self.layer_range[0] <= self.layer_hasher.bucket(uid) < self.layer_range[1]:
            return "layer"
        if self.traffic_hasher is not None and self.traffic_hasher.bucket(uid) >= self.threshold:
            return "traffic"
        return "assigned"

    def variants(self, unit_ids: Iterable[str | int],
                 attributes: BatchAttributes = None) -> npt.NDArray[np.object_]:
        """Variants of many units (None where not assigned), as an object array.

        Each gate only hashes the units the previous gates kept.

        Args:
            unit_ids: The units.
            attributes: Per-unit attributes for targeting: a sequence of mappings aligned with
                ``unit_ids``, or a mapping of attribute name -> column of values.
        """
        ids = [u if type(u) is str else unit_text(u) for u in unit_ids]
        n = len(ids)
        _check_aligned(attributes, n)
        keep = self._kept(ids, attributes)
        if keep is None:
            out = self._np_names[self._np_table[self.hasher.buckets_of_text(ids)]]
        else:
            out = np.full(n, None, dtype=object)
            chosen = self.hasher.buckets_of_text([ids[i] for i in keep.tolist()])
            out[keep] = self._np_names[self._np_table[chosen]]
        for i, uid in enumerate(ids) if self.forced else ():
            if uid in self.forced:
                out[i] = self.forced[uid]
        return out

    def _kept(self, ids: list[str], attributes: BatchAttributes
              ) -> npt.NDArray[np.intp] | None:
        """Positions of the units that pass holdout, targeting, layer and traffic (None: all)."""
        if self.holdout is None and self.rule is None and self.layer_hasher is None \
                and self.traffic_hasher is None:
            return None
        keep = np.arange(len(ids))
        if self.holdout is not None:
            keep = keep[self.holdout.variants(ids, attributes) != self.holdout_control]
        if self.rule is not None:
            keep = keep[_rule_mask(self.rule, self.rule_attributes, attributes, keep)]
        if self.layer_hasher is not None:
            layer = self.layer_hasher.buckets_of_text([ids[i] for i in keep.tolist()])
            keep = keep[(layer >= self.layer_range[0]) & (layer < self.layer_range[1])]
        if self.traffic_hasher is not None:
            traffic = self.traffic_hasher.buckets_of_text([ids[i] for i in keep.tolist()])
            keep = keep[traffic < self.threshold]
        return keep


def compile_experiments(specs: Mapping[str, ExperimentSpec] | Iterable[ExperimentSpec]
                        ) -> dict[str, CompiledExperiment]:
    """Compile every experiment, resolving holdouts (unknown or cyclic holdouts are spec errors)."""
    by_id = dict(specs) if isinstance(specs, Mapping) else {s.id: s for s in specs}
    compiled: dict[str, CompiledExperiment] = {}

    def build(exp_id: str, chain: tuple[str, ...]) -> CompiledExperiment:
        if exp_id in compiled:
            return compiled[exp_id]
        spec = by_id[exp_id]
        holdout = None
        if spec.holdout is not None:
            if spec.holdout not in by_id:
                raise SpecError([SpecIssue(f"experiments/{exp_id}.yml", None, "holdout",
                                           "names an experiment that does not exist",
                                           value=spec.holdout)])
            if spec.holdout in chain:
                raise SpecError([SpecIssue(f"experiments/{exp_id}.yml", None, "holdout",
                                           "holdouts form a cycle",
                                           value=" -> ".join((*chain, spec.holdout)))])
            holdout = build(spec.holdout, (*chain, spec.holdout))
        compiled[exp_id] = CompiledExperiment(spec, holdout)
        return compiled[exp_id]

    for exp_id in by_id:
        build(exp_id, (exp_id,))
    return compiled


def _checked_forced(spec: ExperimentSpec) -> dict[str, str]:
    names = {v.name for v in spec.variants}
    bad = sorted({v for v in spec.forced.values() if v not in names})
    if bad:
        raise SpecError([SpecIssue(f"experiments/{spec.id}.yml", None, "forced",
                                   "forces a variant the experiment does not have",
                                   value=", ".join(bad), hint=f"variants: {sorted(names)}")])
    return dict(spec.forced)


def _check_aligned(attributes: BatchAttributes, n: int) -> None:
    if attributes is None:
        return
    if isinstance(attributes, Mapping):
        if any(len(column) != n for column in attributes.values()):
            raise ValueError("every attribute column needs one value per unit id")
    elif len(attributes) != n:
        raise ValueError("attributes need one mapping per unit id")


def _plain(column: Any) -> Sequence[Any] | None:
    """An attribute column as Python values: numpy arrays (``<U``, numeric, object), pyarrow
    arrays and pandas Series give ``np.str_``/Arrow scalars otherwise, which no rule equals."""
    if column is None or isinstance(column, list | tuple):
        return column
    to_pylist = getattr(column, "to_pylist", None)  # pyarrow
    if callable(to_pylist):
        return list(to_pylist())
    tolist = getattr(column, "tolist", None)  # numpy, pandas
    if callable(tolist):
        return list(tolist())
    if isinstance(column, str | bytes) or not isinstance(column, Sequence | Iterable):
        raise TypeError(f"an attribute column is a sequence of values per unit, not "
                        f"{type(column).__name__}")
    return list(column)


def _rule_mask(rule: Rule, names: list[str], attributes: BatchAttributes,
               keep: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    """The rule over the kept units, evaluated once per distinct combination of attributes."""
    if attributes is None:
        return np.full(len(keep), rule(None), dtype=bool)
    positions = keep.tolist()
    keys: Iterable[tuple[Any, ...]]
    if isinstance(attributes, Mapping):
        columns = [_plain(attributes.get(a)) for a in names]
        keys = zip(*[[None] * len(positions) if c is None else [c[i] for i in positions]
                     for c in columns], strict=True) if names else iter([()] * len(positions))
    else:
        keys = (() if attributes[i] is None else
                tuple(attributes[i].get(a) for a in names)
                for i in positions)
    cache: dict[tuple[Any, ...], bool] = {}
    out = np.empty(len(positions), dtype=bool)
    for j, key in enumerate(keys):
        try:
            out[j] = cache[key]
        except KeyError:
            out[j] = cache[key] = rule(dict(zip(names, key, strict=False)))
        except TypeError:  # unhashable attribute values: no memo
            out[j] = rule(dict(zip(names, key, strict=False)))
    return out
