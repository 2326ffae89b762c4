"""Fixtures of the assignment tests: the shared hash vectors (``tests/vectors/hash_v1.json``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).parents[1] / "vectors" / "hash_v1.json"
# A released version never changes: this pins the file's bytes.
HASH_V1_SHA256 = "5a06a0d6d4b6df2170074230722962c15966bcca7de8ecb6f93f34d63bd7aeef"


def load_vectors() -> dict[str, Any]:
    """The parsed vectors file, after checking it is the released one."""
    raw = VECTORS.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == HASH_V1_SHA256, "hash_v1.json was modified"
    return json.loads(raw.decode("utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def hash_vectors() -> dict[str, Any]:
    """The released hash version 1 vectors."""
    return load_vectors()
