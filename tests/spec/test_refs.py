"""dbt ``ref()``/``source()`` calls in a spec's table names, recognised by spec/ itself.

spec/ is the low room: it must not reach up into dbt/ (which imports spec/) to read a table name.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from assay.spec.models import table_name
from assay.spec.refs import parse_call

PROBE = """
import sys
from assay.spec.models import Source
Source(table="{{ ref('fct_orders') }}", unit="u", timestamp="t")
Source(table="analytics.orders", unit="u", timestamp="t")
print(sorted(m for m in sys.modules if m.startswith("assay.dbt")))
"""


def test_spec_reads_a_dbt_call_without_importing_dbt() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]", out


@pytest.mark.parametrize(("text", "call"), [
    ("ref('fct_orders')", ("ref", "fct_orders", None)),
    ('{{ ref("pkg", "fct_orders") }}', ("ref", "pkg", "fct_orders")),
    (" source('shop', 'orders') ", ("source", "shop", "orders")),
    ("shop.orders", None),
    ("ref(fct_orders)", None),
    ("ref('a', 'b', 'c')", None),
])
def test_parse_call(text: str, call: tuple[str, str, str | None] | None) -> None:
    assert parse_call(text) == call


def test_a_dbt_call_is_a_table_name_and_a_quote_is_not() -> None:
    assert table_name("ref('fct_orders')") == "ref('fct_orders')"
    with pytest.raises(ValueError, match="is not a table name"):
        table_name("orders'; drop")


def test_the_spec_models_load_without_the_project_loader_or_warehouses() -> None:
    probe = ("import sys\nimport assay.spec.models\nfrom assay.spec import Source\n"
             "print(sorted(m for m in ('assay.spec.project', 'assay.warehouse', 'pyarrow') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]", out
