"""What a missing test engine means: a skip on a developer's machine, a failure under CI.

Shared by ``tests/conftest.py`` (the PostgreSQL and Spark fixtures) and test modules that need
an engine's driver at import time. Every reason says what is missing and how to get it.
"""

from __future__ import annotations

import importlib
import os

import pytest

INSTALL_HINT = "pip install -e '.[{extra}]' into .venv (`make test` installs every extra)"


def unavailable(reason: str) -> None:
    """Skip locally; under CI a missing engine is a broken machine, so fail."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI is set, so this is an error, not a skip)")
    pytest.skip(reason, allow_module_level=True)


def require_module(module: str, extra: str) -> None:
    """Import ``module`` (a driver from the ``extra`` install group) or declare it unavailable."""
    try:
        importlib.import_module(module)
    except ImportError as err:
        unavailable(f"Python package {module} is not installed ({err}); "
                    + INSTALL_HINT.format(extra=extra))
