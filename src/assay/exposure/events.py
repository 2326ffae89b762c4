"""The exposure event and its wire form (JSON), shared by the SDK sinks and the collector."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

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


def exposure_table(events: list[Exposure] | list[dict[str, Any]],
                   columns: ExposureSource | None = None) -> pa.Table:
    """Events as an Arrow table named after the project's ``exposures`` column mapping."""
    names = columns or ExposureSource()
    rows: list[dict[str, Any]] = [e if isinstance(e, dict) else {
        "experiment_id": e.experiment_id, "variant": e.variant, "unit_id": e.unit_id,
        "timestamp": e.timestamp} for e in events]
    return pa.table({
        names.experiment_id: pa.array([r["experiment_id"] for r in rows], pa.string()),
        names.variant: pa.array([r["variant"] for r in rows], pa.string()),
        names.unit_id: pa.array([r["unit_id"] for r in rows], pa.string()),
        names.timestamp: pa.array([utc_naive(r["timestamp"]) for r in rows],
                                  pa.timestamp("us")),
    })
