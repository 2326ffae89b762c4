"""Assignments per second: assay's SDK against the growthbook Python SDK, on the same ids.

Run: ``.venv/bin/python benchmarks/bench_assign.py [--n 200000]``. Prints one table; every figure
is measured in this run, the two SDKs side by side (best of ``--repeat`` runs).

* ``single``: one call per unit (``Client.variant`` vs ``GrowthBook.run`` with
  ``set_attributes``, one instance reused, which is growthbook's cheapest public path).
* ``vectorised``: ``Client.variants`` over the whole list vs growthbook's best option, a loop
  (it has no batch API); the raw growthbook hash loop (``gbhash`` + ``chooseVariation``) is shown
  too, as a floor for any per-id Python loop.
* ``gated``: the same with targeting (country = 'DE') and 50 % traffic on both sides.
"""

from __future__ import annotations

import argparse
import logging

from bench_stats import best_of
from growthbook import Experiment, GrowthBook
from growthbook.core import chooseVariation, gbhash, getBucketRanges

from assay.client import Client
from assay.spec.models import ExperimentSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("growthbook").setLevel(logging.ERROR)
    ids = [f"user-{i}" for i in range(args.n)]
    plain = ExperimentSpec(id="bench", variants=[{"name": "control", "weight": 1},
                                                 {"name": "treatment", "weight": 1}])
    gated = plain.model_copy(update={"id": "bench_gated", "traffic": 0.5,
                                     "targeting": "country = 'DE'"})
    client = Client([plain, gated])
    gb = GrowthBook(attributes={"id": ids[0]})
    gb_plain = Experiment(key="bench", variations=["control", "treatment"])
    gb_gated = Experiment(key="bench_gated", variations=["control", "treatment"], coverage=0.5,
                          condition={"country": "DE"})
    attrs = {"country": "DE"}

    def assay_single() -> None:
        variant = client.variant
        for u in ids:
            variant("bench", u, log=False)

    def gb_single() -> None:
        for u in ids:
            gb.set_attributes({"id": u})
            gb.run(gb_plain)

    def assay_single_gated() -> None:
        variant = client.variant
        for u in ids:
            variant("bench_gated", u, attrs, log=False)

    def gb_single_gated() -> None:
        for u in ids:
            gb.set_attributes({"id": u, "country": "DE"})
            gb.run(gb_gated)

    def assay_vector() -> None:
        client.variants("bench", ids)

    def assay_vector_gated() -> None:
        client.variants("bench_gated", ids, {"country": ["DE"] * len(ids)})

    ranges = getBucketRanges(2, 1.0, None)

    def gb_hash_loop() -> None:
        for u in ids:
            n = gbhash("bench", u, 2)
            chooseVariation(n if n is not None else 0.0, ranges)

    rows = [
        ("single", best_of(assay_single, args.repeat), best_of(gb_single, args.repeat)),
        ("single, gated", best_of(assay_single_gated, args.repeat),
         best_of(gb_single_gated, args.repeat)),
        ("vectorised", best_of(assay_vector, args.repeat), best_of(gb_single, args.repeat)),
        ("vectorised, gated", best_of(assay_vector_gated, args.repeat),
         best_of(gb_single_gated, args.repeat)),
        ("vectorised vs gb hash loop", best_of(assay_vector, args.repeat),
         best_of(gb_hash_loop, args.repeat)),
    ]
    split = client.variants("bench", ids)
    print(f"assignments per second, {args.n:,} ids, best of {args.repeat} "
          f"(assay treatment share {float((split == 'treatment').mean()):.3f})")
    print(f"{'case':<28}{'assay /s':>14}{'growthbook /s':>16}{'ratio':>9}")
    for name, ours, theirs in rows:
        print(f"{name:<28}{args.n / ours:>14,.0f}{args.n / theirs:>16,.0f}"
              f"{theirs / ours:>8.1f}x")


if __name__ == "__main__":
    main()
