"""How runs get a configuration: by the hash of their own id, or by time block (switchback).

Both designs go through assay's salted hash (:class:`assay.assign.engine.CompiledExperiment`),
so an assignment is deterministic and the SQL twin of the hash reproduces it in the warehouse.

* :class:`PerRun`: the randomisation unit is the id passed to ``run(..., unit=...)`` (a run,
  batch or partition id). Retries of one unit keep its configuration.
* :class:`Switchback`: time is cut into blocks of ``block`` length; every run that starts in a
  block gets the block's configuration, and the block is the unit. Runs in the first
  ``washout`` of a block are recorded but not analysed (carry-over from the previous block's
  configuration: caches, queues, compaction). The analysis treats blocks as clusters (ratio
  metrics over block sums, delta method), because runs of one pipeline are autocorrelated and
  share resources, so runs are not independent units.

References:
    Bojinov, I., Simchi-Levi, D., Zhao, J. (2023). Design and analysis of switchback
    experiments. Management Science 69(7), 3759-3777.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from assay.assign.engine import CompiledExperiment
from assay.errors import AssayError
from assay.spec.models import ExperimentSpec

_EPOCH = dt.datetime(1970, 1, 1)


@dataclass(frozen=True)
class PerRun:
    """Each run (batch, partition) is its own unit, assigned by the hash of its id."""

    name: str = "per_run"

    def unit_of(self, pipeline: str, unit: str, at: dt.datetime) -> tuple[str, bool]:
        """``(analysis unit, analysed)`` of a run with id ``unit`` starting at ``at``."""
        return unit, True


@dataclass(frozen=True)
class Switchback:
    """Time-block randomisation.

    Attributes:
        block: Length of a block (every run starting in it gets its configuration).
        washout: Runs starting within this time of a block's start are not analysed.
        origin: Blocks are counted from here (naive UTC).
    """

    block: dt.timedelta
    washout: dt.timedelta = dt.timedelta(0)
    origin: dt.datetime = _EPOCH
    name: str = field(default="switchback", init=False)

    def __post_init__(self) -> None:
        if self.block <= dt.timedelta(0):
            raise AssayError("a switchback block must be longer than zero")
        if not dt.timedelta(0) <= self.washout < self.block:
            raise AssayError("the washout must be at least zero and shorter than a block")

    def block_index(self, at: dt.datetime) -> int:
        """The block a moment falls in."""
        return (_naive(at) - self.origin) // self.block

    def unit_of(self, pipeline: str, unit: str, at: dt.datetime) -> tuple[str, bool]:
        """``(block id, analysed)``: the block is the unit; washout runs are not analysed."""
        index = self.block_index(at)
        offset = _naive(at) - (self.origin + index * self.block)
        return block_id(pipeline, index), offset >= self.washout


Design = PerRun | Switchback


def block_id(pipeline: str, index: int) -> str:
    """The unit id of one switchback block (what the hash sees)."""
    return f"{pipeline}:block:{index}"


@dataclass(frozen=True)
class PipelineExperiment:
    """An experiment on a pipeline's configuration.

    Attributes:
        pipeline: The pipeline's name (``run("ingest_orders", ...)``).
        experiment: The experiment spec: its variants are the configurations, its salt drives
            the hash, its metrics (if any) the KPIs analysed.
        design: :class:`PerRun` (default) or :class:`Switchback`.
    """

    pipeline: str
    experiment: ExperimentSpec
    design: Design = field(default_factory=PerRun)

    def compiled(self) -> CompiledExperiment:
        """The experiment prepared for assignment."""
        return CompiledExperiment(self.experiment)


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)
