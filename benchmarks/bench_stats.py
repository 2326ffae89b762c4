"""How fast does the stats engine evaluate 10,000 metric x variant x segment cells?

Run: ``python benchmarks/bench_stats.py``. Prints the best of several runs for the vectorised
path (what the analysis layer uses for many cells) and, for reference, the scalar API per cell.
The inputs are the contract's sufficient statistics, as the warehouse returns them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from assay.stats.batch import MomentArrays, compare_batch, cuped_batch, mean_arrays, ratio_arrays
from assay.stats.estimates import mean_estimate
from assay.stats.moments import Moments
from assay.stats.multiple import adjust_pvalues
from assay.stats.tests import compare, proportion_arrays

CELLS = 10_000  # 20 metrics x 5 variants x 100 segments


def _sufficient_stats(rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = rng.integers(500, 50_000, CELLS).astype(float)
    mean = rng.uniform(1, 100, CELLS)
    sd = rng.uniform(1, 50, CELLS)
    s = n * mean
    return {"n": n, "s": s, "ss": (n - 1) * sd**2 + s**2 / n,
            "den": n * 3.0, "dd": n * 10.0, "nd": s * 3.5,
            "conv": np.floor(n * rng.uniform(0.01, 0.3, CELLS))}


def vectorised(c: dict[str, np.ndarray], t: dict[str, np.ndarray]) -> None:
    """Means (Welch), ratios (delta method) and proportions, then BH over the family."""
    p = []
    batch = compare_batch(mean_arrays(c["n"], c["s"], c["ss"]),
                          mean_arrays(t["n"], t["s"], t["ss"]))
    p.append(batch.values["p_value"])
    ratio = compare_batch(
        ratio_arrays(c["n"], c["s"], c["den"], c["ss"], c["nd"], c["dd"]),
        ratio_arrays(t["n"], t["s"], t["den"], t["ss"], t["nd"], t["dd"]))
    p.append(ratio.values["p_value"])
    p.append(proportion_arrays(c["n"], c["conv"], t["n"], t["conv"])["p_value"])
    for family in p:
        adjust_pvalues(family, "bh")


def cuped_cells(rng: np.random.Generator) -> MomentArrays:
    """Stacked moments of (y, x) for every cell of one arm."""
    n = rng.integers(500, 50_000, CELLS).astype(float)
    sums = np.column_stack([n * rng.uniform(1, 100, CELLS), n * rng.uniform(1, 100, CELLS)])
    sd_y, sd_x, rho = rng.uniform(1, 50, CELLS), rng.uniform(1, 50, CELLS), rng.uniform(0, 0.9,
                                                                                          CELLS)
    cov = (n - 1)[:, None, None] * np.stack([np.stack([sd_y**2, rho * sd_y * sd_x], -1),
                              np.stack([rho * sd_y * sd_x, sd_x**2], -1)], -2)
    cross = cov + sums[:, :, None] * sums[:, None, :] / n[:, None, None]
    return MomentArrays(("y", "x"), n, sums, cross)


def cuped(c: MomentArrays, t: MomentArrays) -> None:
    """CUPED (theta pooled per cell) then Welch."""
    (ce, te), _, _ = cuped_batch([c, t])
    compare_batch(ce, te)


def scalar(c: dict[str, np.ndarray], t: dict[str, np.ndarray], cells: int) -> None:
    """The scalar API, one cell at a time (mean metric only)."""
    for i in range(cells):
        arms = [mean_estimate(Moments(("y",), d["n"][i], d["s"][i:i + 1], d["ss"][i:i + 1, None]))
                for d in (c, t)]
        compare(*arms)


def best_of(fn: Callable[[], None], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    c, t = _sufficient_stats(rng), _sufficient_stats(rng)
    vec = best_of(lambda: vectorised(c, t))
    print(f"vectorised: {CELLS:,} cells x 3 metric kinds (mean/Welch, ratio/delta, proportion/z)"
          f" + BH: {vec * 1e3:.1f} ms total, {vec / (3 * CELLS) * 1e6:.2f} us per cell")
    cc, ct = cuped_cells(rng), cuped_cells(rng)
    cup = best_of(lambda: cuped(cc, ct))
    print(f"vectorised CUPED + Welch: {CELLS:,} cells in {cup * 1e3:.1f} ms")
    sample = 1_000
    sc = best_of(lambda: scalar(c, t, sample), repeat=2)
    print(f"scalar API (reference): {sc / sample * 1e6:.0f} us per cell, "
          f"{sc / sample * CELLS:.2f} s for {CELLS:,} cells")


if __name__ == "__main__":
    main()
