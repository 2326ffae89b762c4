"""Credentials: ``${ENV_VAR}`` interpolation in the project file, and redaction everywhere.

Every message assay prints, logs or stores passes :func:`redact`: the password of any URL
(``scheme://user:PASSWORD@host``, also with a mistyped scheme or slashes), ``password=...``
key-values, and every secret seen so far (a URL's password as written and decoded, each value
interpolated from the environment) become ``***``. Registering the secret itself matters: a
driver may quote part of a password on its own (``invalid percent-encoded token: "PW%zz"``).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Mapping
from urllib.parse import unquote

MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*:/*[^\s:/@]*):(?P<pw>[^\s@/]*)@")
_KEY_VALUE = re.compile(r"(?i)(?P<head>\b(?:password|passwd|pwd|secret|token|api_key)"
                        r"\s*[=:]\s*)(?P<pw>'[^']*'|\"[^\"]*\"|[^\s&;,]+)")
_ENV = re.compile(r"\$\$\{|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}|\$\{[^}]*\}?")
_known: set[str] = set()
_lock = threading.Lock()


def remember(secret: str) -> None:
    """Mask ``secret`` in every later message (short strings are ignored: too common)."""
    if len(secret) >= 3:
        with _lock:
            _known.add(secret)


def remember_url(url: str) -> None:
    """Mask the password of ``url`` (as written and percent-decoded) from now on."""
    for match in _URL_PASSWORD.finditer(url):
        password = match.group("pw")
        remember(password)
        with contextlib.suppress(UnicodeDecodeError):
            remember(unquote(password, errors="strict"))


def redact(text: str) -> str:
    """``text`` with credentials masked (see the module docstring)."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    text = _KEY_VALUE.sub(lambda m: f"{m.group('head')}{MASK}", text)
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, MASK)
    return text


class MissingVariableError(ValueError):
    """A ``${NAME}`` names an environment variable that is not set (or is malformed)."""


def interpolate(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace ``${NAME}`` with the environment variable ``NAME`` (``$${`` is a literal ``${``;
    any other ``$`` is kept).

    Each value is remembered as a secret, so it is masked wherever it would be shown.

    Raises:
        MissingVariableError: A variable is not set, or a ``${...}`` is not a valid name.
    """
    env = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name = match.group("name")
        if name is None:
            raise MissingVariableError(f"`{match.group(0)[:40]}` is not ${{NAME}} with NAME "
                                       "of letters, digits and `_`")
        if name not in env:
            raise MissingVariableError(f"environment variable {name} is not set")
        remember(env[name])
        return env[name]

    return _ENV.sub(value, text) if "${" in text else text
