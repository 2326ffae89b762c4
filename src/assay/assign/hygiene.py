"""Salt hygiene: experiments must not share a salt, and their assignments must be independent.

A pure function of the experiment specs; the project validation turns its findings into located
spec issues. Checks:

* ``shared_salt`` (error): two experiments hash with the same salt, so the same units land in
  the same buckets: their treatment groups overlap far more than chance.
* ``derived_salt_collision`` (error): a salt equals another experiment's derived salt (its
  traffic salt ``salt:traffic`` or a layer salt ``layer:name``), with the same effect.
* ``correlated_assignment`` (error): over a fixed sample of ids, the bucket deciles of two
  experiments are not independent (chi-square test of independence, Bonferroni over pairs).
* ``layer_overlap`` (error): two experiments of one layer own overlapping ``layer_range``.
* ``unused_buckets`` (warning): unequal weights leave part of the variant hash unused (see
  :mod:`assay.assign.layout`), so fewer units enter than ``traffic`` suggests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import numpy.typing as npt

from assay.assign.hashing import BUCKETS, buckets, layer_salt, traffic_salt
from assay.assign.layout import coverage, variant_ranges
from assay.spec.models import ExperimentSpec

SAMPLE_IDS = 20_000
DECILES = 10


@dataclass(frozen=True)
class SaltFinding:
    """One hygiene problem.

    Attributes:
        code: ``shared_salt``, ``derived_salt_collision``, ``correlated_assignment``,
            ``layer_overlap`` or ``unused_buckets``.
        experiments: The experiment ids involved (the first is where to report it).
        message: One sentence for the user.
        severity: ``error`` or ``warning``.
        figures: Test statistics where a test was run (``chi2``, ``p_value``, ``df``).
    """

    code: str
    experiments: tuple[str, ...]
    message: str
    severity: str = "error"
    figures: dict[str, float] = field(default_factory=dict)


def check_salts(experiments: Mapping[str, ExperimentSpec], *, sample: int = SAMPLE_IDS,
                alpha: float = 0.001) -> list[SaltFinding]:
    """Every salt hygiene finding over a project's experiments (empty when all is well).

    Args:
        experiments: Experiment id -> spec.
        sample: Number of synthetic unit ids (``assay-hygiene-0`` ...) used by the
            independence test; deterministic, so the check never flakes.
        alpha: Family-wise false-alarm rate of the independence tests (Bonferroni).
    """
    findings = _shared(experiments) + _layer_overlaps(experiments) + _unused(experiments)
    flagged = {f.experiments for f in findings if f.code in ("shared_salt",
                                                             "derived_salt_collision")}
    findings += _correlated(experiments, sample, alpha, flagged)
    return findings


def _salts_of(spec: ExperimentSpec) -> dict[str, str]:
    salts = {spec.hash_salt: "salt"}
    if spec.traffic < 1:
        salts[traffic_salt(spec.hash_salt)] = "traffic salt"
    return salts


def _shared(experiments: Mapping[str, ExperimentSpec]) -> list[SaltFinding]:
    findings = []
    layers = {layer_salt(s.layer): s.layer for s in experiments.values() if s.layer}
    for a, b in combinations(sorted(experiments), 2):
        sa, sb = experiments[a].hash_salt, experiments[b].hash_salt
        if sa == sb:
            findings.append(SaltFinding("shared_salt", (a, b),
                                        f"`{a}` and `{b}` share the salt '{sa}': the same units "
                                        "get the same buckets; give each experiment its own salt"))
            continue
        for x, y in ((a, b), (b, a)):
            kind = _salts_of(experiments[y]).get(experiments[x].hash_salt)
            if kind and kind != "salt":
                findings.append(SaltFinding("derived_salt_collision", (x, y),
                                            f"the salt of `{x}` equals the {kind} of `{y}`"))
    for exp_id, spec in sorted(experiments.items()):
        if spec.hash_salt in layers:
            findings.append(SaltFinding("derived_salt_collision", (exp_id,),
                                        f"the salt of `{exp_id}` equals the hash salt of layer "
                                        f"'{layers[spec.hash_salt]}'"))
    return findings


def _layer_overlaps(experiments: Mapping[str, ExperimentSpec]) -> list[SaltFinding]:
    findings = []
    for a, b in combinations(sorted(experiments), 2):
        ea, eb = experiments[a], experiments[b]
        if ea.layer is None or ea.layer != eb.layer:
            continue
        ra, rb = ea.layer_range or (0, BUCKETS), eb.layer_range or (0, BUCKETS)
        if ra[0] < rb[1] and rb[0] < ra[1]:
            findings.append(SaltFinding(
                "layer_overlap", (a, b),
                f"`{a}` {list(ra)} and `{b}` {list(rb)} overlap in layer '{ea.layer}': they are "
                "not mutually exclusive; give them disjoint `layer_range`s"))
    return findings


def _unused(experiments: Mapping[str, ExperimentSpec]) -> list[SaltFinding]:
    findings = []
    for exp_id, spec in sorted(experiments.items()):
        share = coverage(variant_ranges([v.name for v in spec.variants],
                                        [v.weight for v in spec.variants]))
        if share < 0.99:
            findings.append(SaltFinding(
                "unused_buckets", (exp_id,),
                f"unequal weights use {share:.1%} of `{exp_id}`'s variant buckets (anchored "
                f"slots), so about {share * spec.traffic:.1%} of eligible units enter",
                severity="warning", figures={"coverage": share}))
    return findings


def chi2_sf(df: int, x: float) -> float:
    """Upper tail ``P(X >= x)`` of a chi-square with integer ``df``, in closed form.

    With ``h = x / 2``: for even ``df = 2k``, ``exp(-h) sum_{i<k} h^i / i!``; for odd
    ``df = 2k + 1``, ``erfc(sqrt(h)) + exp(-h) sum_{i<k} h^(i + 1/2) / Gamma(i + 3/2)``. Every
    term is positive (no cancellation) and taken in log space (no overflow). Pure Python, so
    that `assay validate` imports no scipy (about 0.5 s); checked against ``scipy`` in the tests.

    References:
        Abramowitz, M., Stegun, I. A. (1964). Handbook of Mathematical Functions, 26.4.4-26.4.5.
    """
    if df < 1:
        raise ValueError(f"df must be a positive integer, got {df}")
    if not x > 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    h = x / 2
    k, odd = divmod(df, 2)
    log_h = math.log(h)
    if odd:
        terms = (-h + (i + 0.5) * log_h - math.lgamma(i + 1.5) for i in range(k))
        return min(1.0, math.erfc(math.sqrt(h)) + math.fsum(math.exp(t) for t in terms))
    terms = (-h + i * log_h - math.lgamma(i + 1) for i in range(k))
    return min(1.0, math.fsum(math.exp(t) for t in terms))


def bucket_independence(first: npt.NDArray[np.integer], second: npt.NDArray[np.integer],
                        bins: int = DECILES) -> tuple[float, float, int]:
    """Chi-square test of independence of two bucket arrays (values in ``[0, bins)``).

    Returns:
        ``(chi2, p_value, df)`` of Pearson's test on the ``bins x bins`` contingency table.
    """
    table = np.zeros((bins, bins))
    np.add.at(table, (np.asarray(first), np.asarray(second)), 1)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    chi2 = float(((table - expected) ** 2 / expected).sum())
    df = (table.shape[0] - 1) * (table.shape[1] - 1)
    return chi2, chi2_sf(df, chi2) if df > 0 else 1.0, int(df)


def _correlated(experiments: Mapping[str, ExperimentSpec], sample: int, alpha: float,
                flagged: set[tuple[str, ...]]) -> list[SaltFinding]:
    ids = [f"assay-hygiene-{i}" for i in range(sample)]
    ordered = sorted(experiments)
    deciles = {e: buckets(experiments[e].hash_salt, ids) * DECILES // BUCKETS for e in ordered}
    pairs = [p for p in combinations(ordered, 2) if p not in flagged]
    findings = []
    for a, b in pairs:
        chi2, p_value, df = bucket_independence(deciles[a], deciles[b])
        if p_value < alpha / max(len(pairs), 1):
            findings.append(SaltFinding(
                "correlated_assignment", (a, b),
                f"the buckets of `{a}` and `{b}` are correlated (chi-square {chi2:.1f} on "
                f"{df} df, p = {p_value:.2g}); their salts must differ",
                figures={"chi2": float(chi2), "p_value": float(p_value), "df": float(df)}))
    return findings
