"""Exposure logging: the SDK logger (:mod:`.logger`), its sinks (:mod:`.sinks`) and the
collector service (:mod:`.collector`)."""

from __future__ import annotations

from assay.exposure.events import Exposure
from assay.exposure.logger import ExposureLogger
from assay.exposure.sinks import HttpSink, ListSink, Sink, WarehouseSink

__all__ = ["Exposure", "ExposureLogger", "HttpSink", "ListSink", "Sink", "WarehouseSink"]
