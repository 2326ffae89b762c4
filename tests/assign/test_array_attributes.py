"""Attribute columns for batch targeting may be any array-like: a numpy ``<U`` array or a
pyarrow array made every unit silently ineligible."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from assay.client import Client
from assay.spec.models import ExperimentSpec

SPEC = ExperimentSpec(id="e", variants=[{"name": "a", "weight": 1}, {"name": "b", "weight": 1}],
                      targeting="country = 'DE' and age >= 18")
UNITS = [f"u{i}" for i in range(200)]
COUNTRY = ["DE" if i % 3 else "FR" for i in range(200)]
AGE = [15 + i % 10 for i in range(200)]


@pytest.mark.parametrize("wrap", [np.array, pa.array, pd.Series,
                                  lambda v: np.array(v, dtype=object), tuple])
def test_every_array_like_targets_like_a_list(wrap: Any) -> None:
    client = Client([SPEC])
    expected = client.variants("e", UNITS, {"country": COUNTRY, "age": AGE})
    assert sum(v is not None for v in expected) > 50
    got = client.variants("e", UNITS, {"country": wrap(COUNTRY), "age": wrap(AGE)})
    assert got.tolist() == expected.tolist()


def test_a_string_is_not_a_column() -> None:
    with pytest.raises((TypeError, ValueError)):
        Client([SPEC]).variants("e", ["u1", "u2"], {"country": "DE", "age": [20, 30]})
