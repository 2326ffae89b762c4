"""dbt ``ref()`` / ``source()`` calls written where a spec names a table.

The spec only recognises the call (so that ``table: ref('fct_orders')`` is not refused as a
malformed table name); :mod:`assay.dbt.context` resolves it to a relation from the manifest.
"""

from __future__ import annotations

import re

#: ``ref('fct_orders')``, ``ref('pkg', 'fct_orders')``, ``source('shop', 'orders')``, with or
#: without ``{{ }}`` around them.
_CALL = re.compile(
    r"""^\s*(?:\{\{\s*)?(?P<fn>ref|source)\(\s*(?P<q1>['"])(?P<a>[^'"]+)(?P=q1)\s*"""
    r"""(?:,\s*(?P<q2>['"])(?P<b>[^'"]+)(?P=q2)\s*)?\)\s*(?:\}\}\s*)?$"""
)


def parse_call(text: str) -> tuple[str, str, str | None] | None:
    """``("ref", "fct_orders", None)`` / ``("source", "shop", "orders")``, or None if ``text``
    is not a dbt ``ref``/``source`` call (a plain table name).

    Example:
        >>> parse_call("{{ ref('fct_orders') }}")
        ('ref', 'fct_orders', None)
        >>> parse_call("analytics.orders") is None
        True
    """
    match = _CALL.match(text)
    if match is None:
        return None
    return match["fn"], match["a"], match["b"]
