"""Warehouse backends behind one small protocol, opened from a connection URL.

``duckdb:///relative/path.duckdb``, ``duckdb:////abs/path.duckdb``, ``duckdb://:memory:``
(``?lock_wait=60``: seconds to wait for a file another process holds),
``postgresql://user@host:port/db``, ``spark://local[2]`` (PySpark, local mode),
``spark://host:7077`` (a standalone cluster), ``sc://host:15002/;token_env=VAR`` (Spark Connect).
"""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import parse_qs

from assay.errors import AssayError
from assay.secrets import redact, remember_url
from assay.warehouse.base import Warehouse

__all__ = ["DIALECTS", "Warehouse", "connect", "dialect_of", "require_dialect"]

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


DIALECTS = tuple(sorted(set(_DIALECTS.values())))
"""The SQL dialects assay compiles for (``assay sql --dialect``)."""


def _scheme(url: str) -> str:
    """The URL's scheme without a SQLAlchemy driver suffix (``postgresql+psycopg``)."""
    scheme, found, _ = url.partition("://")
    if not found:
        raise AssayError(f"the warehouse URL {redact(url)[:80]!r} has no scheme; write e.g. "
                         "duckdb:///warehouse.duckdb or postgresql://user@host/db")
    return scheme.lower().split("+")[0]


def dialect_of(url: str) -> str:
    """The SQLGlot dialect of the warehouse a URL names (``postgresql://...`` -> ``postgres``).

    Raises:
        AssayError: The scheme is unknown, or a DuckDB URL's option is (a project that names
            such a URL fails to load, located at ``warehouse``).
    """
    scheme = _scheme(url)
    if scheme not in _DIALECTS:
        raise AssayError(
            f"unsupported warehouse URL scheme {redact(scheme)[:40]!r}; known: "
            f"{', '.join(sorted(_DIALECTS))}"
        )
    if scheme == "duckdb":
        _duckdb_options(url.partition("://")[2])
    return _DIALECTS[scheme]


def require_dialect(dialect: str) -> str:
    """``dialect`` if assay compiles for it, else an error naming the ones it does."""
    if dialect.lower() not in DIALECTS:
        raise AssayError(f"assay does not compile SQL for {dialect[:40]!r}; supported: "
                         f"{', '.join(DIALECTS)}")
    return dialect.lower()


def _duckdb_options(path: str) -> tuple[str, float]:
    """Split ``file.duckdb?lock_wait=60`` into the path and its ``lock_wait``: seconds to wait
    for another process that holds the file (default ``LOCK_WAIT_SECONDS``, 10)."""
    from assay.warehouse.duckdb import LOCK_WAIT_SECONDS

    path, _, query = path.partition("?")
    lock_wait = LOCK_WAIT_SECONDS
    for key, values in parse_qs(query, keep_blank_values=True).items():
        if key != "lock_wait":
            raise AssayError(f"unknown DuckDB URL option {redact(key)[:40]!r}; the one there is "
                             "is lock_wait (seconds to wait for a file another process holds)")
        try:
            seconds = float(values[-1])
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and 0 <= seconds <= 86400):
            raise AssayError(f"lock_wait must be a number of seconds from 0 to 86400, not "
                             f"{redact(values[-1])[:40]!r}")
        lock_wait = seconds
    return path, lock_wait


def connect(url: str, *, base_dir: str | Path | None = None, read_only: bool = False) -> Warehouse:
    """Open the warehouse a URL names.

    Args:
        url: Connection URL (see module docstring).
        base_dir: Directory relative DuckDB paths are resolved against (the project directory).
        read_only: Open DuckDB files read-only.

    Raises:
        AssayError: The URL's scheme is not supported or its driver is not installed.
    """
    remember_url(url)
    scheme, rest = _scheme(url), url.partition("://")[2]
    if scheme == "duckdb":
        from assay.warehouse.duckdb import DuckDBWarehouse

        path = rest[1:] if rest.startswith("/") else rest
        path, lock_wait = _duckdb_options(path)
        if path in ("", ":memory:"):
            return DuckDBWarehouse(":memory:")
        resolved = Path(path)
        if not resolved.is_absolute() and base_dir is not None:
            resolved = Path(base_dir) / resolved
        return DuckDBWarehouse(resolved, read_only=read_only, lock_wait=lock_wait)
    if scheme in ("postgres", "postgresql"):
        try:
            from assay.warehouse.postgres import PostgresWarehouse
        except ImportError as err:
            raise AssayError("PostgreSQL needs `pip install 'assay[postgres]'`") from err
        return PostgresWarehouse("postgresql://" + rest)  # libpq knows no driver suffix
    if scheme in ("spark", "sc"):
        try:
            from assay.warehouse.spark import SparkWarehouse
        except ImportError as err:
            raise AssayError("Spark needs `pip install 'assay[spark]'`") from err
        return SparkWarehouse.from_url(url)
    raise AssayError(
        f"unsupported warehouse URL scheme {redact(scheme)[:40]!r}; use duckdb://, "
        "postgresql://, spark:// or sc://"
    )
