"""JSON snapshots of a project's experiments and flags, for SDKs that do not read the project.

``assay snapshot -o snapshot.json`` writes one; serve it over HTTP (any static file server or
object store) and load it with ``Client.from_snapshot("https://.../snapshot.json")``. Only the
assignment fields are exported. A snapshot names its ``hash_version``; a client refuses a
version it does not implement rather than assigning differently from the warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from assay.assign.flags import FlagSpec
from assay.assign.hashing import HASH_VERSION
from assay.errors import AssayError
from assay.spec.models import ExperimentSpec

SNAPSHOT_FORMAT = "assay-snapshot"
SNAPSHOT_VERSION = 1
ASSIGNMENT_FIELDS = {"id", "salt", "hash_version", "unit", "variants", "traffic", "layer",
                     "layer_range", "targeting", "forced", "holdout", "start", "end"}


def build_snapshot(experiments: Iterable[ExperimentSpec], flags: Iterable[FlagSpec] = (),
                   *, project: str | None = None) -> dict[str, Any]:
    """The snapshot document (JSON-ready)."""
    return {
        "format": SNAPSHOT_FORMAT, "snapshot_version": SNAPSHOT_VERSION,
        "hash_version": HASH_VERSION, "project": project,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "experiments": [e.model_dump(mode="json", include=ASSIGNMENT_FIELDS)
                        for e in sorted(experiments, key=lambda e: e.id)],
        "flags": [f.model_dump(mode="json") for f in sorted(flags, key=lambda f: f.name)],
    }


def parse_snapshot(doc: Mapping[str, Any]) -> tuple[list[ExperimentSpec], list[FlagSpec]]:
    """Experiments and flags of a snapshot document.

    Raises:
        AssayError: Not a snapshot, an unknown hash version, or invalid content.
    """
    if doc.get("format") != SNAPSHOT_FORMAT:
        raise AssayError("not an assay snapshot (expected \"format\": \"assay-snapshot\")")
    if doc.get("hash_version") != HASH_VERSION:
        raise AssayError(f"snapshot uses hash version {doc.get('hash_version')}; this SDK "
                         f"implements version {HASH_VERSION}")
    try:
        experiments = [ExperimentSpec.model_validate(e) for e in doc.get("experiments", [])]
        flags = [FlagSpec.model_validate(f) for f in doc.get("flags", [])]
    except ValidationError as err:
        raise AssayError(f"invalid snapshot: {err}") from err
    return experiments, flags


def read_snapshot(source: str | Path, *, timeout: float = 10.0) -> dict[str, Any]:
    """Read a snapshot document from a file path or an ``http(s)://`` URL."""
    text = str(source)
    try:
        if text.startswith(("http://", "https://")):
            with urllib.request.urlopen(text, timeout=timeout) as response:
                raw = response.read()
        else:
            raw = Path(text).read_bytes()
        doc = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError) as err:
        raise AssayError(f"cannot read snapshot {text}: {err}") from err
    if not isinstance(doc, dict):
        raise AssayError(f"snapshot {text} is not a JSON object")
    return doc
