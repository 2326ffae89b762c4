"""Calendar of the demo: the history start, each experiment's dates and the end of the data.

Times inside the generator are float seconds since :attr:`Timeline.history_start`; they become
timestamps (microseconds) only when the tables are written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from assay.spec.models import ExperimentSpec

#: Pre-period history before the first experiment starts (CUPED reads 28 days of it).
PRE_PERIOD = dt.timedelta(weeks=6)
#: Every metric window is [0d, 14d) after exposure; the data run this long past the last end.
METRIC_WINDOW = dt.timedelta(days=14)
DAY = 86400.0


@dataclass(frozen=True)
class Timeline:
    """Dates the generator works with.

    Attributes:
        history_start: First moment with data (6 weeks before the earliest experiment start).
        data_end: End of the data, exclusive (the latest experiment end plus the metric window).
    """

    history_start: dt.datetime
    data_end: dt.datetime

    @classmethod
    def for_experiments(cls, specs: list[ExperimentSpec]) -> Timeline:
        """The timeline covering the pre-period and every experiment's metric window."""
        starts = [_required(s.start_at(), s.id, "start") for s in specs]
        ends = [_required(s.end_at(), s.id, "end") for s in specs]
        return cls(history_start=min(starts) - PRE_PERIOD, data_end=max(ends) + METRIC_WINDOW)

    def seconds(self, moment: dt.datetime) -> float:
        """Seconds from the history start to ``moment``."""
        return (moment - self.history_start).total_seconds()

    @property
    def first_start(self) -> dt.datetime:
        """The earliest experiment start (the end of the pre-period)."""
        return self.history_start + PRE_PERIOD

    @property
    def end_seconds(self) -> float:
        """Seconds from the history start to the end of the data."""
        return self.seconds(self.data_end)

    def timestamps(self, seconds: npt.NDArray[np.float64]) -> pa.Array:
        """Arrow ``timestamp[us]`` values for offsets in seconds."""
        base = np.datetime64(self.history_start.replace(tzinfo=None), "us")
        micros = np.round(seconds * 1e6).astype(np.int64)
        return pa.array(base + micros.astype("timedelta64[us]"), type=pa.timestamp("us"))


def _required(value: dt.datetime | None, experiment_id: str, field: str) -> dt.datetime:
    if value is None:
        raise ValueError(f"demo experiment {experiment_id} needs a `{field}` date")
    return value
