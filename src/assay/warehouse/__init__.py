"""Warehouse backends behind one small protocol, opened from a connection URL.

``duckdb:///relative/path.duckdb``, ``duckdb:////abs/path.duckdb``, ``duckdb://:memory:``,
``postgresql://user@host:port/db``, ``spark://local[2]`` (PySpark, local mode),
``spark://host:7077`` (a standalone cluster), ``sc://host:15002/;token_env=VAR`` (Spark Connect).
"""

from __future__ import annotations

from pathlib import Path

from assay.errors import AssayError
from assay.warehouse.base import Warehouse

__all__ = ["Warehouse", "connect", "dialect_of"]

_DIALECTS = {
    "duckdb": "duckdb",
    "postgres": "postgres",
    "postgresql": "postgres",
    "spark": "spark",
    "sc": "spark",
    "databricks": "databricks",
    "bigquery": "bigquery",
    "snowflake": "snowflake",
    "trino": "trino",
}


def dialect_of(url: str) -> str:
    """The SQLGlot dialect of the warehouse a URL names (``postgresql://...`` -> ``postgres``)."""
    scheme = url.partition("://")[0].lower().split("+")[0]
    if scheme not in _DIALECTS:
        raise AssayError(
            f"unsupported warehouse URL scheme '{scheme}://'; known: {', '.join(sorted(_DIALECTS))}"
        )
    return _DIALECTS[scheme]


def connect(url: str, *, base_dir: str | Path | None = None, read_only: bool = False) -> Warehouse:
    """Open the warehouse a URL names.

    Args:
        url: Connection URL (see module docstring).
        base_dir: Directory relative DuckDB paths are resolved against (the project directory).
        read_only: Open DuckDB files read-only.

    Raises:
        AssayError: The URL's scheme is not supported or its driver is not installed.
    """
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme == "duckdb":
        from assay.warehouse.duckdb import DuckDBWarehouse

        path = rest[1:] if rest.startswith("/") else rest
        if path in ("", ":memory:"):
            return DuckDBWarehouse(":memory:")
        resolved = Path(path)
        if not resolved.is_absolute() and base_dir is not None:
            resolved = Path(base_dir) / resolved
        return DuckDBWarehouse(resolved, read_only=read_only)
    if scheme in ("postgres", "postgresql"):
        try:
            from assay.warehouse.postgres import PostgresWarehouse
        except ImportError as err:
            raise AssayError("PostgreSQL needs `pip install 'assay[postgres]'`") from err
        return PostgresWarehouse(url)
    if scheme in ("spark", "sc"):
        try:
            from assay.warehouse.spark import SparkWarehouse
        except ImportError as err:
            raise AssayError("Spark needs `pip install 'assay[spark]'`") from err
        return SparkWarehouse.from_url(url)
    raise AssayError(
        f"unsupported warehouse URL scheme '{scheme}://'; use duckdb://, postgresql://, spark:// or sc://"
    )
