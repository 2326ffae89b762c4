"""The exposure event and its wire form (JSON), shared by the SDK sinks and the collector."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from assay.spec.models import ExposureSource


@dataclass(frozen=True, slots=True)
class Exposure:
    """One unit's first exposure to one experiment.

    Attributes:
        experiment_id: The experiment.
        variant: The variant the unit saw.
        unit_id: The unit.
        timestamp: When the variant-specific behaviour was shown (UTC, naive or aware).
    """

    experiment_id: str
    variant: str
    unit_id: str
    timestamp: dt.datetime

    def to_json(self) -> dict[str, str]:
        """Wire form: ISO 8601 timestamp with an explicit UTC offset."""
        moment = self.timestamp if self.timestamp.tzinfo else \
            self.timestamp.replace(tzinfo=dt.UTC)
        return {"experiment_id": self.experiment_id, "variant": self.variant,
                "unit_id": self.unit_id, "timestamp": moment.isoformat()}


def utc_naive(moment: dt.datetime) -> dt.datetime:
    """The instant as a naive UTC timestamp (what the warehouse stores)."""
    return moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)


def exposure_table(events: list[Exposure], columns: ExposureSource | None = None) -> pa.Table:
    """Events as an Arrow table named after the project's ``exposures`` column mapping."""
    return exposure_columns(
        columns or ExposureSource(), [e.experiment_id for e in events],
        [e.variant for e in events], [e.unit_id for e in events],
        pa.array([utc_naive(e.timestamp) for e in events], pa.timestamp("us")))


def exposure_columns(columns: ExposureSource, experiment_ids: list[str], variants: list[str],
                     unit_ids: list[str], timestamps: pa.Array) -> pa.Table:
    """The exposure table from its four columns (``timestamps`` as ``timestamp[us]``, UTC),
    named after the project's mapping; shared by the SDK sink and the collector's loader."""
    return pa.table({
        columns.experiment_id: pa.array(experiment_ids, pa.string()),
        columns.variant: pa.array(variants, pa.string()),
        columns.unit_id: pa.array(unit_ids, pa.string()),
        columns.timestamp: timestamps,
    })
