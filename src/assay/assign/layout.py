"""How buckets map to variants, so that changing traffic or weights never moves a unit across arms.

Three independent hashes decide a unit's fate (see :mod:`assay.assign.hashing`):

* the **layer** hash (``"layer:" + layer``) picks which experiment of a layer a unit may enter
  (each experiment owns ``layer_range`` of the layer's 10,000 buckets, so they are exclusive);
* the **traffic** hash (``salt + ":traffic"``) admits ``traffic * 10000`` buckets;
* the **variant** hash (``salt``) picks the arm through *anchored slots*.

Anchored slots: the 10,000 variant buckets are cut into ``n`` equal slots, one per variant in
spec order (slot ``i`` starts at ``floor(i * 10000 / n)``). Variant ``i`` fills its slot from the
slot's start for ``floor((10000 // n) * w_i / max(w))`` buckets. A variant's range therefore
always starts at the same bucket: raising a weight *extends* the range, lowering it shrinks the
range at its end, and no bucket ever changes from one variant to another. Raising traffic only
admits new units (the variant hash does not depend on traffic). The price: with unequal weights
some variant buckets are unused (coverage ``sum(w) / (n * max(w))``); equal weights use them all.
Adding or removing a variant changes ``n`` and so the slots: that is a new experiment (new salt).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from assay.assign.hashing import BUCKETS


@dataclass(frozen=True)
class VariantRange:
    """Buckets ``[start, end)`` of the variant hash that assign ``variant``."""

    variant: str
    start: int
    end: int

    @property
    def size(self) -> int:
        """Number of buckets in the range."""
        return self.end - self.start


def variant_ranges(names: Sequence[str], weights: Sequence[float]) -> list[VariantRange]:
    """Anchored-slot ranges of the variant hash, one per variant, in spec order.

    Example:
        >>> [(r.variant, r.start, r.end) for r in variant_ranges(["a", "b"], [1, 3])]
        [('a', 0, 1666), ('b', 5000, 10000)]
    """
    if len(names) != len(weights) or not names:
        raise ValueError("one weight per variant, at least one variant")
    n = len(names)
    slot = BUCKETS // n
    top = max(weights)
    ranges = []
    for i, (name, weight) in enumerate(zip(names, weights, strict=True)):
        start = i * BUCKETS // n
        fill = math.floor(slot * weight / top + 1e-9)
        ranges.append(VariantRange(name, start, start + fill))
    return ranges


def traffic_threshold(traffic: float) -> int:
    """Traffic-hash buckets below this threshold are admitted (``round(traffic * 10000)``)."""
    return round(traffic * BUCKETS)


def bucket_table(ranges: Sequence[VariantRange]) -> list[int]:
    """For each of the 10,000 buckets, the index of its variant or -1 (precomputed lookup)."""
    table = [-1] * BUCKETS
    for index, r in enumerate(ranges):
        table[r.start:r.end] = [index] * r.size
    return table


def coverage(ranges: Sequence[VariantRange]) -> float:
    """Share of the variant hash's buckets that assign some variant."""
    return sum(r.size for r in ranges) / BUCKETS
