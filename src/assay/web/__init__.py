"""The dashboard (``assay serve``): FastAPI and server-rendered templates over the results store.

It reads the store (and the project's specs) only and never recomputes a statistic; charts are
inline SVG drawn from stored figures. See :func:`assay.web.app.create_app`.
"""

from __future__ import annotations

from assay.web.app import create_app

__all__ = ["create_app"]
