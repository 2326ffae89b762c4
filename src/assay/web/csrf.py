"""CSRF protection for the dashboard's writes: a per-browser token in a cookie and the form.

Each browser gets a random ``assay_session`` cookie (HttpOnly, SameSite=Strict); forms carry
``HMAC(server secret, session)``. A POST is accepted only when the form's token matches the
cookie's HMAC, and, when the browser sends an ``Origin``, when that origin is the server's own.
A cross-site page can neither read the cookie nor compute the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

COOKIE = "assay_session"
FIELD = "csrf_token"


class Csrf:
    """Tokens bound to one server process's secret."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    @staticmethod
    def new_session() -> str:
        """A fresh session id for the cookie."""
        return secrets.token_urlsafe(24)

    def token(self, session: str) -> str:
        """The form token for ``session``."""
        return hmac.new(self._secret, session.encode(), hashlib.sha256).hexdigest()

    def valid(self, session: str | None, token: str | None, origin: str | None,
              own_origin: str) -> bool:
        """Whether a POST carries a token for its session cookie, from this server's origin."""
        if not session or not token:
            return False
        if origin is not None and origin != own_origin:
            return False
        return hmac.compare_digest(self.token(session), token)
