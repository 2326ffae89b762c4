"""What the collector accepts and where it lands: one :class:`Stream` per kind of record.

A stream is the whole contract of a record kind on the journal -> loader path:

* ``name``: the endpoint (``POST /v1/<name>``, or ``Collector.receive(name, body)`` in
  process) and the ``stream`` field of its journal records;
* ``check(index, event)``: one decoded JSON event -> a clean row (a flat dict of JSON scalars,
  as journaled) or a :class:`~assay.exposure.validation.Rejection`; it must refuse whatever the
  sinks cannot store (see :func:`~assay.exposure.validation.text_problem`);
* ``table`` and ``to_arrow(rows)``: the warehouse table the rows are appended to and their Arrow
  form (the loader writes it inside the transaction that also records the batch id).

The collector ships ``exposures`` and ``events``; another part of assay (pipeline runs) adds
its own stream with :meth:`Collector.add_stream` and gets the same guarantees: durable before
acknowledged, idempotent batch ids, exactly-once loading, poison rows quarantined in
``assay_collector_dead_letters`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from assay.exposure.events import exposure_columns
from assay.exposure.validation import Rejection, check_exposure, check_metric_event
from assay.spec.models import ExposureSource

Row = dict[str, Any]
Check = Callable[[int, Any], tuple[Row | None, Rejection | None]]


@dataclass(frozen=True)
class Stream:
    """One kind of record: how it is validated and which table it is loaded into.

    Attributes:
        name: Endpoint and journal name (``[a-z_]+``).
        table: Warehouse table the rows are appended to.
        check: Event -> ``(row, None)`` or ``(None, rejection)``.
        to_arrow: Rows -> the Arrow table appended to ``table``.
    """

    name: str
    table: str
    check: Check
    to_arrow: Callable[[list[Row]], pa.Table]


def exposure_stream(variants: Mapping[str, tuple[str, ...]], columns: ExposureSource) -> Stream:
    """Exposures of the project's experiments into its exposure table (its column mapping)."""
    def check(index: int, event: Any) -> tuple[Row | None, Rejection | None]:
        return check_exposure(index, event, variants)

    def to_arrow(rows: list[Row]) -> pa.Table:
        return exposure_columns(
            columns, [r["experiment_id"] for r in rows], [r["variant"] for r in rows],
            [r["unit_id"] for r in rows], _timestamps(rows))

    return Stream("exposures", columns.table or "exposures", check, to_arrow)


def event_stream(table: str = "assay_events") -> Stream:
    """Metric events ``{unit_id, timestamp, event, value}`` into ``table``."""
    def to_arrow(rows: list[Row]) -> pa.Table:
        return pa.table({
            "unit_id": pa.array([r["unit_id"] for r in rows], pa.string()),
            "timestamp": _timestamps(rows),
            "event": pa.array([r["event"] for r in rows], pa.string()),
            "value": pa.array([r["value"] for r in rows], pa.float64()),
        })

    return Stream("events", table, check_metric_event, to_arrow)


def _timestamps(rows: list[Row]) -> pa.Array:
    """Journal timestamps (epoch microseconds, UTC) as naive UTC ``timestamp[us]``."""
    return pa.array([r["timestamp"] for r in rows], pa.int64()).cast(pa.timestamp("us"))
