"""The dashboard's HTTP application: server-rendered pages over the results store.

Pages: ``/`` (experiments, filter by status), ``/experiments/{id}``, ``/metrics/{name}`` and
``/jobs/{id}`` (a re-run's progress); each has a JSON twin under ``/api``. Writes (record a
decision, re-run an analysis) are POSTs with a CSRF token, refused in read-only mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from assay.report.html import environment
from assay.spec.project import Project
from assay.web.catalog import Catalog
from assay.web.csrf import COOKIE, FIELD, Csrf
from assay.web.jobs import Jobs

TEMPLATES = Path(__file__).parent / "templates"
#: Nothing but this server and inline styles: an injected script would not run, nor load.
POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
          "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
MAX_FORM_BYTES = 64_000


def create_app(project: Project, *, read_only: bool = False) -> FastAPI:
    """The dashboard for one project (``read_only``: no decision or re-run, for sharing)."""
    catalog = Catalog(project, read_only=read_only)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        catalog.close()

    app = FastAPI(title="assay", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    state = AppState(catalog, read_only)
    if not read_only:  # create or migrate the store's tables once, not on a page view
        with state.catalog.store(write=True) as store:
            store.ensure()

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        request.state.session = request.cookies.get(COOKIE) or state.csrf.new_session()
        response: Response = await call_next(request)
        response.headers["Content-Security-Policy"] = POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if COOKIE not in request.cookies:
            response.set_cookie(COOKIE, request.state.session, httponly=True, samesite="strict")
        return response

    from assay.web import routes

    routes.register(app, state)
    return app


class AppState:
    """What every route needs: the catalog, CSRF tokens, jobs, and the template renderer."""

    def __init__(self, catalog: Catalog, read_only: bool) -> None:
        self.catalog = catalog
        self.read_only = read_only
        self.csrf = Csrf()
        self.jobs = Jobs()
        self.env = environment(TEMPLATES)

    def session(self, request: Request) -> str:
        """The browser's session id (the middleware sets a new one's cookie)."""
        return str(request.state.session)

    def render(self, request: Request, template: str, code: int = 200,
               **context: Any) -> HTMLResponse:
        """A page, with the CSRF token of this browser's session."""
        html = self.env.get_template(template).render(
            standalone=False, read_only=self.read_only,
            project_name=self.catalog.project.spec.name,
            csrf_token=self.csrf.token(self.session(request)), **context,
        )
        return HTMLResponse(html, status_code=code)

    def error(self, request: Request, code: int, title: str, message: str) -> HTMLResponse:
        """An error page with a sentence (never a traceback)."""
        return self.render(request, "error.html.j2", code, title=title, message=message)

    async def form(self, request: Request) -> dict[str, str] | None:
        """The POSTed form if its CSRF token is valid for this browser, else None."""
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return None
        fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        ok = self.csrf.valid(request.cookies.get(COOKIE), fields.get(FIELD),
                             request.headers.get("origin"), own)
        return fields if ok else None

    @staticmethod
    def redirect(path: str) -> RedirectResponse:
        """303 See Other: the browser GETs ``path`` after a POST."""
        return RedirectResponse(quote(path), status_code=303)

    @staticmethod
    def json(data: Any, status: int = 200) -> JSONResponse:
        """A JSON twin."""
        return JSONResponse(data, status_code=status)

